# NYU Depth v2 with bokeh stacks made offline (cached backend), in the official Stage-1 layout:
#   <stack_root>/<sample>/defocus_stack/{i}.png + stack_index.json (per-frame K)
# Make them with the diffusion generator (no ground truth: honest monocular inputs), e.g.
#   python tools/make_bokeh_stacks.py configs/bokeh_generator/<generator config>.py --out data/nyu_bokeh
_base_ = ['./nyu.py']
stack_root = 'data/nyu_bokeh'
k_values = [10.0, 20.0, 30.0]  # official inference default
# Stack folders are named by the image path relative to data_root (images/train/0001 -> <stack_root>/images/train/0001).
bokeh_stack = dict(type='BokehStackGenerator', backend=dict(type='cached', root=stack_root,
                                                            data_root={{_base_.data_root}}), k_values=k_values)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    bokeh_stack,
    dict(type='ResizeToMultiple', scale=518, keep_ratio=True, resize_method='lower_bound', size_divisor=14),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    bokeh_stack,
    dict(type='ResizeToMultiple', scale=518, keep_ratio=True, resize_method='lower_bound', size_divisor=14,
         resize_depth=False),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
