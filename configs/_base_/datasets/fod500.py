# FoD500 as released with DefocusNet (dvl-tum/defocus-net, folder data/fs_6): one folder with
#   {scene:06d}_{slice:02d}All.tif (5 RGB 256x256 frames, focus 0.1, 0.15, 0.3, 0.7, 1.5 m) + {scene:06d}Dpt.exr
#   (metres, channel R, half float); scenes < 400 train (400), the rest test (100). f 2.9 mm, N 1, 3.1 mm / 256 px.
# No all-in-focus image: `img` is frame `ref_frame` (default the middle one, focused at 0.3 m).
# Evaluation: DFV's protocol (fuy34/DFV eval_FoD500.py: gt and prediction clipped to 1.5 m, gt = 0 ignored) and all
# pixels; every result is logged with the protocol, the dataset and the layout, the keys prefixed by the protocol.
dataset_type = 'FoD500Dataset'
data_root = 'data/fod500/fs_6'
layout = 'defocusnet'
ref_frame = None
meta_keys = ('img_path', 'depth_path', 'ori_shape', 'img_shape', 'flip', 'sample_idx', 'img_source', 'focus_units',
             'scene', 'focal_stack_source')

train_pipeline = [
    dict(type='LoadFocalStack'),
    dict(type='LoadDepth', exr_channel='R'),
    dict(type='RandomCrop', crop_size=(224, 224)),  # DFV's training crop
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadFocalStack'),
    dict(type='LoadDepth', exr_channel='R'),
    dict(type='PackDepthInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, layout=layout, split='train', ref_frame=ref_frame,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, layout=layout, split='test', ref_frame=ref_frame,
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='DepthMetric', protocol='dfv_1.5m', min_depth=1e-3, max_depth=3.0, prefix='fod500_defocusnet/dfv_1.5m'),
    dict(type='DepthMetric', protocol='all', min_depth=1e-3, max_depth=3.0, prefix='fod500_defocusnet/all'),
]
test_evaluator = val_evaluator
