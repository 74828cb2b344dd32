# Depth Anything V2 ViT-B metric fine-tuning on NYU Depth v2 (max depth 10 m), from the official
# Hypersim metric checkpoint converted with:
#   python tools/convert/dav2_to_mmbokeh.py depth_anything_v2_metric_hypersim_vitb.pth \
#       checkpoints/dav2-b_metric_hypersim.pth
_base_ = [
    '../_base_/models/dav2_vitb.py', '../_base_/datasets/nyu.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
model = dict(decode_head=dict(max_depth=10.0))
load_from = 'checkpoints/dav2-b_metric_hypersim.pth'
