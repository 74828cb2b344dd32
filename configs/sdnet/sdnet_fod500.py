# SDNet on FoD500 as DefocusNet released it (data/fod500/fs_6: 400 train / 100 test stacks of 5 frames focused at
# 0.1, 0.15, 0.3, 0.7, 1.5 m; f 2.9 mm, N 1). Trained on pairs of frames; evaluated on ONE defocused frame, the
# middle one (0.3 m), with DFV's protocol (clip 1.5 m) and all pixels. The SDNet paper's Table I uses DEReD's
# re-rendered set: configs/sdnet/sdnet_fod500_dered.py.
_base_ = [
    '../_base_/models/sdnet_mpvit-tiny.py', '../_base_/datasets/fod500.py', '../_base_/schedules/schedule_sdnet_40k.py',
    '../_base_/default_runtime.py'
]
max_depth = 3.0
model = dict(
    defocus_head=dict(max_coc_px=8.0),  # the FoD500 camera blurs by at most about 3.5 px up to 3 m
    depth_net=dict(depth_scale=max_depth),
    train_cfg=dict(min_depth=0.1, max_depth=max_depth),
    # frame 2 (0.3 m) in evaluation; a photo (tools/infer.py) is taken as shot like it
    test_cfg=dict(view=2, focus_dist=0.3, camera=dict(focal_length=2.9e-3, f_number=1.0, pixel_size=3.1e-3 / 256)))
infer_pipeline = [dict(type='LoadImage'), dict(type='PackDepthInputs')]
work_dir = 'work_dirs/sdnet_fod500'
