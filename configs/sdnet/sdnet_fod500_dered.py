# SDNet on DEReD's re-rendered DefocusNet data (the SDNet paper's Table I): focus 0.3, 0.45, 0.75, 1.2, 1.8 m,
# f 7.2 mm, N 1.2, pixel 5.6 um, depth [0.1, 3] m; `img` is the all-in-focus image (the Gaussians' colours).
# Evaluated on ONE defocused frame, the middle one (0.75 m): all pixels and depth < 0.5 m.
_base_ = [
    '../_base_/models/sdnet_mpvit-tiny.py', '../_base_/datasets/fod500_dered.py',
    '../_base_/schedules/schedule_sdnet_40k.py', '../_base_/default_runtime.py'
]
max_depth = 3.0
model = dict(
    depth_net=dict(depth_scale=max_depth),
    train_cfg=dict(min_depth=0.1, max_depth=max_depth),
    # frame 2 (0.75 m) in evaluation; a photo (tools/infer.py) is taken as shot like it
    test_cfg=dict(view=2, focus_dist=0.75, camera=dict(focal_length=7.2e-3, f_number=1.2, pixel_size=5.6e-6)))
infer_pipeline = [dict(type='LoadImage'), dict(type='PackDepthInputs')]
work_dir = 'work_dirs/sdnet_fod500_dered'
