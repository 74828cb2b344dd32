# UniDepthV2-L, evaluated on NYU Depth v2 (the samples' cam_intrinsics are given to the model, as the official model
# uses a given camera). Official weights: python tools/convert/unidepth_to_mmbokeh.py <UniDepthV2-L .bin/.pth> \
#     checkpoints/unidepth_v2-l.pth
_base_ = ['../_base_/models/unidepth_v2_vitl.py', '../_base_/datasets/nyu.py', '../_base_/default_runtime.py']
model = dict(train_cfg=dict(max_depth=10.0))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
load_from = 'checkpoints/unidepth_v2-l.pth'
load_from_hint = ('Convert the official weights with\n    python tools/convert/unidepth_to_mmbokeh.py '
                  '<UniDepthV2-L checkpoint> checkpoints/unidepth_v2-l.pth')
