# Embedded procedural indoor scenes with exact metric depth: no download, deterministic from the seed.
dataset_type = 'SyntheticDefocusDataset'
img_size = (126, 126)  # multiple of 14 (9 x 9 ViT patches)

train_pipeline = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs'),
]
test_pipeline = [dict(type='PackDepthInputs')]

train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, num_samples=256, img_size=img_size, split='train', seed=0,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, num_samples=32, img_size=img_size, split='val', seed=0, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthMetric', min_depth=1e-3, max_depth=10.0)
test_evaluator = val_evaluator
