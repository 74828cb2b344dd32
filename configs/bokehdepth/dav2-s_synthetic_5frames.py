# Variant: five stack frames.
_base_ = ['./dav2-s_synthetic.py']
bokeh_stack = dict(type='BokehStackGenerator', backend='physical', k_values=[2.0, 4.0, 6.0, 8.0, 10.0], focus=1.0,
                   seed=0)
train_pipeline = [bokeh_stack, dict(type='RandomFlip', prob=0.5), dict(type='PackDepthInputs')]
test_pipeline = [bokeh_stack, dict(type='PackDepthInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
