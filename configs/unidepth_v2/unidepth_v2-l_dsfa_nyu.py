# Fine-tuning UniDepthV2-DSFA on NYU Depth v2 with cached bokeh stacks (official recipe:
# UniDepth/configs/config_v2_vitl14_DSFA_nyuv2.json with UniDepth/scripts/train_DSFA.py), starting from UniDepthV2-L
# (the DSFA blocks from their own init), e.g.
#   python tools/convert/unidepth_to_mmbokeh.py unidepthv2_vitl14.bin checkpoints/unidepth_v2-l.pth
# Deliberate differences from the official training (docs/unidepth.md): every stack frame with its K reaches the
# model (the official data path passes no K and keeps one frame), the samples' correct intrinsics are used, and
# the camera loss compares the predicted rays with the given camera's (official: always ~0).
_base_ = ['./unidepth_v2-l_dsfa.py']
model = dict(
    backbone=dict(with_cp=True),  # S + 1 frames through ViT-L: activation checkpointing
    decode_head=dict(loss_decode=[
        dict(type='UniDepthSILogLoss', integrated=0.15, loss_weight=1.0),
        dict(type='UniDepthConfidenceLoss', loss_weight=0.1),
        dict(type='UniDepthCameraLoss', loss_weight=0.25),
        dict(type='MSEDepthLoss', loss_weight=1.0),  # official metric_depth_mse (NYU config only)
    ]))
# Official: AdamW with per-group learning rates (new DSFA blocks 2e-6 x 10, pretrained encoder 2e-6 x 0.1,
# pretrained decoder 1e-4 x 0.1), weight decay 0.1 on every group, gradient clipping 1.0, fp16 autocast.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='float16',
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(custom_keys={
        'neck': dict(lr_mult=2.0),  # 2e-5
        'backbone': dict(lr_mult=0.02),  # 2e-7
        'decode_head': dict(lr_mult=1.0),  # 1e-5
    }),
    clip_grad=dict(max_norm=1.0))
# Official: 75k iterations, lr flat for the first 18,750 ("warmup" from lr to lr), then cosine to 1 % of each
# group's lr.
max_iters = 75000
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=18750, end=max_iters, T_max=max_iters - 18750,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
# Official global batch: 16 samples (x 2 augmented copies) per step on 4 GPUs; here 4 samples per GPU.
train_dataloader = dict(batch_size=4)
load_from = 'checkpoints/unidepth_v2-l.pth'
load_from_hint = ('Convert the official UniDepthV2-L weights with\n    python tools/convert/unidepth_to_mmbokeh.py '
                  '<UniDepthV2-L checkpoint> checkpoints/unidepth_v2-l.pth')
