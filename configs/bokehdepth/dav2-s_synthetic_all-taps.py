# Variant: fuse all four DPT taps (as the UniDepthV2 variant of BokehDepth does).
_base_ = ['./dav2-s_synthetic.py']
model = dict(neck=dict(fuse_taps=[0, 1, 2, 3]))
