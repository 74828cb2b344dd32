# The embedded synthetic rooms rendered as focal stacks (no download): each scene's image and exact depth go through
# RenderFocalStack with DefocusNet's FoD500 camera (f 2.9 mm, N 1, focus 0.1, 0.15, 0.3, 0.7, 1.5 m; the pixel pitch
# scaled from 256 px to the render width). Any camera: set `camera` to a preset name ('nyuv2', 'fod500',
# 'defocusnet_dered') or a dict(focal_length=..., f_number=..., pixel_size=...) and `focus_dists`.
_base_ = ['./synthetic.py']
camera = 'fod500'
focus_dists = None  # the preset's
window = 7
max_depth = 3.0  # FoD500's depth range (the rooms span about 0.5 m to 0.97 max_depth)
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'flip', 'sample_idx', 'focal_stack_source')
render = dict(type='RenderFocalStack', camera=camera, focus_dists=focus_dists, window=window,
              depth_clip=(0.1, max_depth))

train_pipeline = [render, dict(type='RandomFlip', prob=0.5), dict(type='PackDepthInputs', meta_keys=meta_keys)]
test_pipeline = [render, dict(type='PackDepthInputs', meta_keys=meta_keys)]
train_dataloader = dict(dataset=dict(max_depth=max_depth, kind_probs=(0.0, 0.4, 0.4, 0.2), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(max_depth=max_depth, kind_probs=(0.0, 0.4, 0.4, 0.2), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthMetric', min_depth=1e-3, max_depth=max_depth, prefix='synthetic_focal_stack')
test_evaluator = val_evaluator
