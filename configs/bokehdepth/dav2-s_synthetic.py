# CPU demo of BokehDepth Stage 2 as the paper uses it: insert the DefocusAggregation neck into a pretrained Depth
# Anything V2 and fine-tune with bokeh stacks. Depth from defocus on the embedded synthetic scenes: the stacks are
# rendered by the camera model from the scene (ground-truth depth, fixed focus at 1 m), which is legitimate here
# because the camera made the blur (docs/design.md, "Honesty rule"). The same-budget baseline,
# configs/bokehdepth/dav2-s_synthetic_baseline.py, starts from the same checkpoint and fine-tunes on the same data
# with the same schedule and seed, without stack or neck:
#   python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py      # pretrained DAv2 (default scene mix)
#   python tools/train.py configs/bokehdepth/dav2-s_synthetic_baseline.py    # fine-tune without the stack
#   python tools/train.py configs/bokehdepth/dav2-s_synthetic.py             # fine-tune with the stack
_base_ = ['./dav2-s_synthetic_baseline.py']
k_values = [3.0, 6.0, 9.0]  # blur radius K |1/d - 1/1 m|: up to 8 px at the far wall of a 126 px image
# The exact occlusion gate: the demo's figures (docs/bokehdepth.md) were measured with it; the physical backend's
# default, occlusion='layered', is 4.9x faster at 640x480 and within 0.02 of it (docs/performance.md).
bokeh_stack = dict(type='BokehStackGenerator', backend=dict(type='physical', occlusion='exact'), k_values=k_values,
                   focus=1.0, seed=0)
train_pipeline = [bokeh_stack, dict(type='RandomFlip', prob=0.5), dict(type='PackDepthInputs')]
test_pipeline = [bokeh_stack, dict(type='PackDepthInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# One fused tap, the shallowest (block 2: local blur evidence, the DPT's finest path). The stack frames run through
# the encoder with gradient but only up to that tap (blocks 0-2 of 12), so the encoder learns to read blur for a
# quarter of the blocks of a full pass per frame.
# K enters the K embedding as K / 9 (k_embed_scale): raw K makes the FiLM shift of the stack frames drown their
# image content. alpha 0.1 keeps the focus bias -alpha |K_i - K_j| in a usable range for these small K.
model = dict(
    neck=dict(type='DefocusAggregation', in_channels=384, fuse_taps=[0], num_heads=8, alpha=0.1, init='official',
              k_embed_scale=1 / 9),
    stack_grad=True)
# The new neck learns faster than the pretrained parts (as the decoder does in DAv2's recipe).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'neck': dict(lr_mult=5.0)}))
work_dir = 'work_dirs/bokehdepth_dav2-s_synthetic'
