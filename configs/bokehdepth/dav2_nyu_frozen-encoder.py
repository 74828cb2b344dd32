# Variant: frozen DINOv2 encoder (trains the neck and the decoder only); stack frames need no encoder gradient.
_base_ = ['./dav2_nyu.py']
model = dict(backbone=dict(frozen=True), stack_grad=False)
