# Same-budget baseline of the BokehDepth CPU demo (configs/bokehdepth/dav2-s_synthetic.py): the same fine-tuning of the
# same pretrained Depth Anything V2 ViT-S on the same textured synthetic scenes, without a bokeh stack or a neck.
# The pretrained model is the DAv2 quick-start demo, trained on the default scene mix:
#   python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py   # -> work_dirs/dav2-s_synthetic/iter_200.pth
_base_ = ['../depth_anything_v2/dav2-s_synthetic.py']
# Depth from defocus needs texture: no flat surfaces (the default mix has a third of them), same geometry.
kind_probs = (0.0, 0.4, 0.4, 0.2)
train_dataloader = dict(dataset=dict(kind_probs=kind_probs, num_samples=2048))
val_dataloader = dict(dataset=dict(kind_probs=kind_probs))
test_dataloader = val_dataloader
# Fine-tuning budget (both demo configs inherit it): 1200 iterations of batch 4 over 2048 training scenes, the base
# schedule's warm-up then poly decay to the end, validation and checkpoints at the midpoint and the end.
max_iters = 1200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=20, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=20, end=max_iters, by_epoch=False),
]
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
load_from = 'work_dirs/dav2-s_synthetic/iter_200.pth'
load_from_hint = 'Train it first with\n    python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py\n'
# Not ./work_dirs/<config name>: that is where the DAv2 demo of the same name keeps the checkpoint loaded above.
work_dir = 'work_dirs/bokehdepth_dav2-s_synthetic_baseline'
