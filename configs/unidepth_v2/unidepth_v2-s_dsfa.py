# UniDepthV2-DSFA at ViT-S width for tests and CPU experiments (no official weights): taps after blocks 3, 6, 9, 12,
# decoder width 128, 4 heads, out_dim 32 (the small variant used to check the official code on CPU).
_base_ = ['./unidepth_v2-l_dsfa.py']
model = dict(
    backbone=dict(arch='s'),
    decode_head=dict(hidden_dim=128, num_heads=4, out_dim=32),
    neck=dict(in_channels=384))
load_from = None
