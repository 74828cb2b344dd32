# Same-budget baseline of the SDNet demo: DepthNet alone on the same defocused frame (no defocus map, no initial
# depth: it regresses depth around a constant 1.5 m), same data, schedule and seed.
_base_ = ['./sdnet_synthetic.py']
model = dict(
    backbone=None,
    neck=None,
    defocus_head=None,
    splat=None,
    depth_net=dict(use_defocus=False, use_init_depth=False, default_depth=1.5))
work_dir = 'work_dirs/sdnet_synthetic_depthnet-only'
