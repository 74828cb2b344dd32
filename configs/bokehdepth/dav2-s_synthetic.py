# CPU demo of BokehDepth Stage 2 on the embedded synthetic scenes, as depth from defocus: the stacks are rendered
# by the camera model from the scene (ground-truth depth, fixed focus at 1 m), which is legitimate here because the
# camera made the blur (DESIGN section 3, honesty rule). The same-budget baseline is
# configs/depth_anything_v2/dav2-s_synthetic.py (same data, schedule and seed, no stack, no neck).
_base_ = ['../depth_anything_v2/dav2-s_synthetic.py']
k_values = [3.0, 6.0, 9.0]
bokeh_stack = dict(type='BokehStackGenerator', backend='physical', k_values=k_values, focus=1.0, seed=0)
train_pipeline = [bokeh_stack, dict(type='RandomFlip', prob=0.5), dict(type='PackDepthInputs')]
test_pipeline = [bokeh_stack, dict(type='PackDepthInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# The stack frames run through the shared encoder without gradient (the official grad_free_stack option) to keep
# the CPU demo to a few minutes; the reference frame trains the encoder.
# With the small K of 126 px images, the official focus bias -|K_i - K_j| (alpha 1) would all but shut the reference
# frame off from the stack; alpha 0.1 keeps the same ordering with a usable range. All four taps are fused so the
# shallow blocks' local blur features reach the decoder (the official DAv2 variant fuses [2, 3]).
model = dict(
    neck=dict(type='DefocusAggregation', in_channels=384, fuse_taps=[0, 1, 2, 3], num_heads=8, alpha=0.1,
              init='official'),
    stack_grad=False)
