# SDNet from scratch: AdamW lr 5e-4, weight decay 5e-4 and a cosine schedule, as DEReD (Ehzoahis/DEReD, whose
# losses SDNet follows) trains; the SDNet paper gives no schedule. Grad clip 1.0.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=5e-4),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, begin=0, end=500, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=1e-6, begin=500, end=40000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=4)
