# BokehDepth Stage 2 on Depth Anything V2 ViT-S (DPT taps [2, 3] = blocks 8 and 11), NYU, cached stacks.
_base_ = ['./dav2_nyu.py']
model = dict(
    backbone=dict(arch='s'),
    decode_head=dict(in_channels=384, features=64, out_channels=[48, 96, 192, 384]),
    neck=dict(in_channels=384))
load_from = 'checkpoints/dav2-s_metric_hypersim.pth'
