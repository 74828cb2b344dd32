# Variant: the official Depth Anything V2 fusion, taps [2, 3] with alpha 1.0.
_base_ = ['./dav2-s_synthetic.py']
model = dict(neck=dict(fuse_taps=[2, 3], alpha=1.0))
