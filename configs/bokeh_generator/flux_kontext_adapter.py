# Train the BokehDepth Stage-1 bokeh adapter on FLUX.1-Kontext-dev (frozen) with pairs rendered by the physical
# backend from ground-truth depth, K ~ U[1, 30] (legitimate: Stage-1 training pairs, docs/design.md "Honesty rule").
#   python tools/train.py configs/bokeh_generator/flux_kontext_adapter.py
#   torchrun --nproc_per_node 8 tools/train.py configs/bokeh_generator/flux_kontext_adapter.py --launcher pytorch
#   python tools/train.py configs/bokeh_generator/flux_kontext_adapter.py --resume      # after an interruption
# Checkpoints (iter_<n>.pth) hold only the adapter; at the end ExportAdapterHook writes <work_dir>/bokeh_lora.bin
# (official key names, what DiffusionBackend(adapter_weights=...) loads). FSDP variant: flux_kontext_adapter_fsdp.py.
# Official hyper-parameters (train_flux_I2I.py): AdamW lr 1e-4, weight decay 0.01, 100 warm-up steps then cosine,
# grad clip 1.0, batch 1, 512 px, guidance 1.0, uniform timesteps, bf16, gradient checkpointing, LoRA rank/alpha 128.
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['mmbokeh', 'mmbokeh.generators.diffusion', 'mmbokeh.engine'],
                      allow_failed_imports=False)

seed = 0
max_iters = 20000
warmup_iters = 100
checkpoint_interval = 1000
size = 512

model = dict(
    type='BokehAdapterModel',
    pretrained='checkpoints/FLUX.1-Kontext-dev',  # local diffusers folder; nothing is downloaded
    dtype='bfloat16',  # the frozen base; the adapter trains in float32
    device=None,  # None: CUDA if available
    adapter=dict(block_ids='0-56', context_dim=768, lora_rank=128, lora_alpha=128, adapt_q=True, adapt_k=True),
    adapter_init=None,  # e.g. 'checkpoints/bokeh_lora.bin' to fine-tune the official adapter
    gradient_checkpointing=True,
    guidance_scale=1.0,
    weighting_scheme='none',
    max_sequence_length=512,
    seed=seed,  # with the iteration and the rank, seeds each step's noise, timesteps and caption (resume-exact)
    data_preprocessor=dict(type='BokehPairPreprocessor', size_multiple=None))  # None: the VAE multiple (16)

# The pair is rendered after resizing and cropping, so K is measured in the pixels the model sees (as the official
# trainer renders its BokehMe targets at training size); RandomFlip keeps the stack aligned. PackDepthInputs gives
# inputs dict(img, stack, stack_k): the reference, the target (frame 0) and its K.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    dict(type='ResizeToMultiple', scale=size, keep_ratio=True, resize_method='lower_bound', size_divisor=16),
    dict(type='RandomCrop', crop_size=(size, size)),
    dict(type='BokehStackGenerator', backend=dict(type='physical', occlusion='layered'), depth_key='gt_depth',
         k_range=(1.0, 30.0), num_k=1, random_k=True, focus='foreground'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='NYUv2Dataset', data_root='data/nyu', split='train', pipeline=train_pipeline))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
test_cfg = None

# bf16 autocast on GPU (tools/train.py falls back to fp32 OptimWrapper on machines without CUDA).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / warmup_iters, begin=0, end=warmup_iters, by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=0.0, begin=warmup_iters, end=max_iters,
         by_epoch=False),
]

default_hooks = dict(
    _delete_=True,  # the runtime's hooks without the depth visualisation (no validation here)
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=checkpoint_interval, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='ExportAdapterHook', filename='bokeh_lora.bin')]
randomness = dict(seed=seed)
work_dir = 'work_dirs/flux_kontext_adapter'
