# BokehDepth Stage 2 on Depth Anything V2 ViT-S (DPT taps [2, 3] = blocks 8 and 11), NYU, cached stacks.
_base_ = ['./dav2_nyu.py']
# Activation checkpointing only where it pays (docs/performance.md): every 2nd encoder block, and only in the passes of
# the S stack frames (the reference frame keeps its activations). ViT-S, S = 3, batch 2 at 518 px on CPU: 6.6-6.8 GB
# peak RSS and 0.64x (2 threads) / 0.75x (1 thread) the time of the official DepthAnythingV2DSFA step, against
# 4.7-4.9 GB and 0.68x / 0.87x with every block checkpointed (with_cp=True, cp_frames='all'), and 8.4-9.8 GB without.
model = dict(
    backbone=dict(arch='s', with_cp=[0, 2, 4, 6, 8, 10]),
    cp_frames='stack',
    decode_head=dict(in_channels=384, features=64, out_channels=[48, 96, 192, 384]),
    neck=dict(in_channels=384))
load_from = 'checkpoints/dav2-s_metric_hypersim.pth'
