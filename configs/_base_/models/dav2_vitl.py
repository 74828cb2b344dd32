# Depth Anything V2 ViT-L (metric head): DINOv2 ViT-L encoder (timm) + DPT decoder, SiLog loss.
_base_ = ['./dav2_vits.py']
model = dict(
    backbone=dict(arch='l'),
    decode_head=dict(in_channels=1024, features=256, out_channels=[256, 512, 1024, 1024]))
