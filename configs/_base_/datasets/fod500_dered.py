# DEReD's re-rendered DefocusNet data (Ehzoahis/DEReD; a different dataset from FoD500): 1000 stacks with
# all-in-focus images, focus 0.3, 0.45, 0.75, 1.2, 1.8 m, f 7.2 mm, N 1.2, pixel 5.6 um; files as DEReD's
# utils/preprocess_defocusnet.py writes them, one folder per split (500 / 500):
#   data/fod500_dered/{train,test}/<scene>_<slice>All.png, <scene>Aif.png, <scene>Dpt.npy (metres)
# `img` is the all-in-focus image; depth clipped to [0.1, 3] m as DEReD's loader does.
# Evaluation: all pixels and depth < 0.5 m (DEReD's eval_model(0.5)), each logged with protocol and layout.
_base_ = ['./fod500.py']
data_root = 'data/fod500_dered'
layout = 'dered'

train_pipeline = [
    dict(type='LoadFocalStack'),
    dict(type='LoadDepth', clip_range=(0.1, 3.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadFocalStack'),
    dict(type='LoadDepth', clip_range=(0.1, 3.0)),
    dict(type='PackDepthInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(data_root=data_root, layout=layout, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, layout=layout, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='DepthMetric', protocol='all', min_depth=1e-3, max_depth=3.0, prefix='fod500_dered/all'),
    dict(type='DepthMetric', protocol='dered_lt0.5m', min_depth=1e-3, max_depth=3.0, prefix='fod500_dered/lt0.5m'),
]
test_evaluator = val_evaluator
