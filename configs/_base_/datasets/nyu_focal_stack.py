# NYUv2 focal stacks as Ehzoahis/DEReD's utils/gen_nyuv2_defocus.py makes them (SDNet follows): images resized to
# 320x240, depth clipped to [0.1, 10] m, five frames focused at 1, 1.5, 2.5, 4, 6 m with f 50 mm, N 8, pixel 12 um,
# Gaussian PSF (mmbokeh.ops.psf_blur) in a 7x7 window (radii reach about 24 px; `window` exposes the truncation),
# radii <= 1 px not blurred. Rendered on the fly from the ground truth, which is legitimate for depth from defocus
# only (docs/design.md, "Honesty rule"). Data: the NYUv2 mmseg layout (configs/_base_/datasets/nyu.py).
_base_ = ['./nyu.py']
window = 7
meta_keys = ('img_path', 'depth_path', 'ori_shape', 'img_shape', 'flip', 'sample_idx', 'focal_stack_source')
render = dict(type='RenderFocalStack', camera='nyuv2', window=window, depth_clip=(0.1, 10.0))
resize = dict(type='ResizeToMultiple', scale=(320, 240), keep_ratio=False, resize_method='minimal', size_divisor=1)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0, clip_range=(0.1, 10.0)),
    resize,
    render,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0, clip_range=(0.1, 10.0)),
    resize,  # DEReD evaluates at 320x240
    render,
    dict(type='PackDepthInputs', meta_keys=meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='DepthMetric', protocol='all', min_depth=1e-3, max_depth=10.0,
                     prefix='nyu_focal_stack/all')
test_evaluator = val_evaluator
