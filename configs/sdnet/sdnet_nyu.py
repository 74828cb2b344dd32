# SDNet on NYUv2 focal stacks as DEReD generates them (320x240, focus 1, 1.5, 2.5, 4, 6 m, f 50 mm, N 8, pixel
# 12 um, Gaussian PSF in a 7x7 window), the setting of the SDNet paper's Tables II-V. Evaluated on ONE defocused
# frame, the middle one (2.5 m), all pixels up to 10 m. Ablations of Tables IV and V: sdnet_nyu_*.py.
_base_ = [
    '../_base_/models/sdnet_mpvit-tiny.py', '../_base_/datasets/nyu_focal_stack.py',
    '../_base_/schedules/schedule_sdnet_40k.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=4)
# frame 2 (2.5 m) in evaluation; a photo (tools/infer.py) is resized to 320x240 and taken as shot like it (the NYUv2
# generation camera, its 12 um pixels at 640 px are 24 um at 320 px)
model = dict(test_cfg=dict(view=2, focus_dist=2.5, camera=dict(focal_length=50e-3, f_number=8.0, pixel_size=24e-6)))
infer_pipeline = [dict(type='LoadImage'), {{_base_.resize}}, dict(type='PackDepthInputs')]
work_dir = 'work_dirs/sdnet_nyu'
