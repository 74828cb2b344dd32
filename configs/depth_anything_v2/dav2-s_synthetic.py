# CPU demo: Depth Anything V2 ViT-S (random init) on the embedded synthetic scenes; trains and validates in minutes.
_base_ = [
    '../_base_/models/dav2_vits.py', '../_base_/datasets/synthetic.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo.py'
]
model = dict(decode_head=dict(max_depth=10.0))
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=2))
