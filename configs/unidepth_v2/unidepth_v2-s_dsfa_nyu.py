# The NYU fine-tuning recipe of unidepth_v2-l_dsfa_nyu.py at ViT-S width (no official weights: from scratch).
_base_ = ['./unidepth_v2-l_dsfa_nyu.py']
model = dict(
    backbone=dict(arch='s'),
    decode_head=dict(hidden_dim=128, num_heads=4, out_dim=32),
    neck=dict(in_channels=384))
load_from = None
