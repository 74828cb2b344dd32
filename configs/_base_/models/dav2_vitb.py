# Depth Anything V2 ViT-B (metric head): DINOv2 ViT-B encoder (timm) + DPT decoder, SiLog loss.
_base_ = ['./dav2_vits.py']
model = dict(
    backbone=dict(arch='b'),
    decode_head=dict(in_channels=768, features=128, out_channels=[96, 192, 384, 768]))
