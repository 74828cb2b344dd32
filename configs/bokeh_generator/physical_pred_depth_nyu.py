# Physical bokeh stacks of NYUv2 test images rendered from a depth model's OWN prediction (no ground truth): a
# legitimate stack source for a monocular-depth benchmark (docs/design.md, "Honesty rule"); recorded as
# 'physical:pred_depth'.
#   python tools/make_bokeh_stacks.py configs/bokeh_generator/physical_pred_depth_nyu.py --out data/stacks/nyu_pred
default_scope = 'mmbokeh'
dataset = dict(type='NYUv2Dataset', data_root='data/nyu', split='test', test_mode=True,
               pipeline=[dict(type='LoadImage')])
depth_model = dict(config='configs/depth_anything_v2/dav2-s_nyu.py',
                   checkpoint='checkpoints/dav2-s_metric_hypersim.pth', key='pred_depth')
generator = dict(
    type='BokehStackGenerator',
    depth_key='pred_depth',
    backend=dict(type='physical'),
    k_values=[10.0, 20.0, 30.0],
    focus='foreground',
    seed=0)
