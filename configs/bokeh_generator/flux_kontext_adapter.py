# Train the BokehDepth Stage-1 bokeh adapter on FLUX.1-Kontext-dev (frozen) with pairs rendered by the physical
# backend from ground-truth depth, K ~ U[1, 30] (legitimate: Stage-1 training pairs, DESIGN section 3).
#   python tools/train_bokeh_adapter.py configs/bokeh_generator/flux_kontext_adapter.py --work-dir work_dirs/adapter
# Official hyper-parameters (train_flux_I2I.py): AdamW lr 1e-4, weight decay 0.01, 100 warm-up steps then cosine,
# grad clip 1.0, batch 1, 512 px, guidance 1.0, uniform timesteps, bf16, gradient checkpointing, LoRA rank/alpha 128.
pretrained = 'checkpoints/FLUX.1-Kontext-dev'
dtype = 'bfloat16'
device = None
adapter = dict(block_ids='0-56', context_dim=768, lora_rank=128, lora_alpha=128, adapt_q=True, adapt_k=True)
adapter_init = None  # e.g. 'checkpoints/bokeh_lora.bin' to fine-tune the official adapter
gradient_checkpointing = True
optimizer = dict(lr=1e-4, weight_decay=0.01)
lr_schedule = 'cosine'
warmup_iters = 100
max_iters = 20000
grad_clip = 1.0
guidance_scale = 1.0
weighting_scheme = 'none'
max_sequence_length = 512
log_interval = 10
save_interval = 1000
seed = 0

size = 512
# The pair is rendered after resizing and cropping, so K is measured in the pixels the model sees (as the official
# trainer renders its BokehMe targets at training size); RandomFlip keeps the stack aligned.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadDepth', depth_scale=1000.0),
    dict(type='ResizeToMultiple', scale=size, keep_ratio=True, resize_method='lower_bound', size_divisor=16),
    dict(type='RandomCrop', crop_size=(size, size)),
    dict(type='BokehStackGenerator', backend=dict(type='physical', depth_key='gt_depth', occlusion=True),
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
