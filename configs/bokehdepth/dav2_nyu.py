# BokehDepth Stage 2 on Depth Anything V2 ViT-L, NYU Depth v2 (max depth 10 m): DefocusAggregation (the official
# DSFA block) on DPT taps [2, 3] (ViT-L blocks 17 and 23), stacks at K = 10, 20, 30 from the cached backend.
# Starts from the converted official DAv2 metric checkpoint (the neck from its own init):
#   python tools/convert/dav2_to_mmbokeh.py depth_anything_v2_metric_hypersim_vitl.pth \
#       checkpoints/dav2-l_metric_hypersim.pth
# or from the official BokehDepth weights:
#   python tools/convert/bokehdepth_to_mmbokeh.py DAV2_dsfa_release.pth checkpoints/bokehdepth_dav2-l.pth
_base_ = [
    '../_base_/models/dav2_vitl.py', '../_base_/datasets/nyu_bokeh.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
# The stack multiplies the encoder's activations by S + 1, so the encoder blocks run under activation checkpointing
# (about 30 % more compute; ViT-S, S = 3, batch 2 at 518 px trains in about 4.3 GiB instead of 9.2 GiB on CPU,
# tools/analysis/benchmark_train_step.py). Set model.backbone.with_cp=False where memory is plentiful.
model = dict(
    backbone=dict(with_cp=True),
    decode_head=dict(max_depth=10.0, loss_decode=dict(type='SiLogLoss', lambd=0.5)),
    neck=dict(type='DefocusAggregation', in_channels=1024, fuse_taps=[2, 3], num_heads=8, mlp_ratio=4.0, alpha=1.0,
              layerscale_init=0.1, init='official'),
    stack_grad=True,
    frame_chunk=None)
# bf16 autocast on GPU (tools/train.py falls back to fp32 on machines without CUDA); AdamW 5e-6, wd 0.01, clip 1.0.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=5e-6, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
load_from = 'checkpoints/dav2-l_metric_hypersim.pth'
