# Same-budget baseline of the BokehDepth CPU demo (configs/bokehdepth/dav2-s_synthetic.py): the same fine-tuning of the
# same pretrained Depth Anything V2 ViT-S on the same textured synthetic scenes, without a bokeh stack or a neck.
# The pretrained model is the DAv2 quick-start demo, trained on the default scene mix:
#   python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py   # -> work_dirs/dav2-s_synthetic/iter_200.pth
_base_ = ['../depth_anything_v2/dav2-s_synthetic.py']
# Depth from defocus needs texture: no flat surfaces (the default mix has a third of them), same geometry.
kind_probs = (0.0, 0.4, 0.4, 0.2)
train_dataloader = dict(dataset=dict(kind_probs=kind_probs))
val_dataloader = dict(dataset=dict(kind_probs=kind_probs))
test_dataloader = val_dataloader
load_from = 'work_dirs/dav2-s_synthetic/iter_200.pth'
load_from_hint = 'Train it first with\n    python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py\n'
# Not ./work_dirs/<config name>: that is where the DAv2 demo of the same name keeps the checkpoint loaded above.
work_dir = 'work_dirs/bokehdepth_dav2-s_synthetic_baseline'
