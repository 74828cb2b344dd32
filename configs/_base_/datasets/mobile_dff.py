# Mobile Depth (Suwajanakorn et al. 2015, "Depth from Focus with Your Mobile Phone"): 11 aligned focal stacks of
# 14 to 33 frames, no ground truth, no camera (focus in self-calibrated units):
#   data/mobile_depth/Aligned/Figure{1,5,6,7}/<scene>/aNN.jpg + data/mobile_depth/calibration/<name>/calibrated.txt
# Focus normalised as fuy34/DFV does ('dfv'; 'dered' divides by 39.37, 'raw' keeps the units); frames sorted by
# focus, `num_frames` of them picked evenly. Qualitative evaluation:
#   python tools/test.py <model config with this dataset> <checkpoint> --show-dir vis
# (DepthMetric(allow_missing_gt=True) logs that no sample has ground truth and reports no metrics).
dataset_type = 'MobileDFFDataset'
data_root = 'data/mobile_depth'
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'sample_idx', 'img_source', 'focus_units', 'scene')

test_pipeline = [
    dict(type='LoadFocalStack'),
    dict(type='ResizeToMultiple', scale=224, keep_ratio=True, resize_method='lower_bound', size_divisor=14),
    dict(type='PackDepthInputs', meta_keys=meta_keys),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, focus_norm='dfv', num_frames=5, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthMetric', allow_missing_gt=True, prefix='mobile_depth')
test_evaluator = val_evaluator
