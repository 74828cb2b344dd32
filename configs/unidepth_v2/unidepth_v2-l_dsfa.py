# UniDepthV2-DSFA (official BokehDepth Stage 2, UniDepth/configs/config_v2_vitl14_DSFA_inference.json): UniDepthV2-L
# with one DSFA block (DefocusAggregation) on each of the four taps, applied to the normed taps after the full
# encoder pass; the stack frames go through the same encoder in one batch; class tokens are not fused.
# Evaluated on NYU with cached stacks at K = 10, 20, 30 (the official inference default).
# Official weights: python tools/convert/unidepth_to_mmbokeh.py UDv2_dsfa_release.pth \
#     checkpoints/unidepth_v2-l_dsfa.pth
_base_ = ['../_base_/models/unidepth_v2_vitl.py', '../_base_/datasets/nyu_bokeh.py', '../_base_/default_runtime.py']
model = dict(
    neck=dict(type='DefocusAggregation', in_channels=1024, fuse_taps=[0, 1, 2, 3], num_heads=8, mlp_ratio=4.0,
              alpha=1.0, layerscale_init=0.1, init='official'),
    train_cfg=dict(max_depth=10.0),
    stack_grad=True)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
load_from = 'checkpoints/unidepth_v2-l_dsfa.pth'
load_from_hint = ('Convert the official weights with\n    python tools/convert/unidepth_to_mmbokeh.py '
                  'UDv2_dsfa_release.pth checkpoints/unidepth_v2-l_dsfa.pth')
