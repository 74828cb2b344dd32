# NYU Depth v2 (Eigen split: 795 train / 654 test from the labeled .mat), mmsegmentation layout:
#   data/nyu/images/{train,test}/*.jpg  +  data/nyu/annotations/{train,test}/*.png (uint16, millimetres)
# Make it with: python tools/dataset_converters/nyu_labeled_mat.py nyu_depth_v2_labeled.mat splits.mat data/nyu
dataset_type = 'NYUv2Dataset'
data_root = 'data/nyu'
crop_size = (518, 518)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    dict(type='ResizeToMultiple', scale=518, keep_ratio=True, resize_method='lower_bound', size_divisor=14),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    dict(type='ResizeToMultiple', scale=518, keep_ratio=True, resize_method='lower_bound', size_divisor=14,
         resize_depth=False),
    dict(type='PackDepthInputs'),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthMetric', min_depth=1e-3, max_depth=10.0, crop='nyu_eigen')
test_evaluator = val_evaluator
