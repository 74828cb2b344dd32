# Stage-1 stacks of NYUv2 test images with FLUX.1-Kontext + the official bokeh adapter (the official offline tool's
# settings: K = 1, 6, ..., 30, 50 steps, guidance 7, bf16). Needs `pip install "mmbokeh[diffusion]"`, a local copy of
# black-forest-labs/FLUX.1-Kontext-dev and the official bokeh_lora.bin. Nothing is downloaded.
#   torchrun --nproc_per_node 4 tools/make_bokeh_stacks.py configs/bokeh_generator/diffusion_nyu.py \
#       --out data/stacks/nyu_diffusion
# Read them back in any pipeline with
#   dict(type='BokehStackGenerator', backend=dict(type='cached', root='data/stacks/nyu_diffusion',
#        data_root='data/nyu'), k_values=[11.0, 21.0, 30.0])
default_scope = 'mmbokeh'
dataset = dict(type='NYUv2Dataset', data_root='data/nyu', split='test', test_mode=True,
               pipeline=[dict(type='LoadImage')])
generator = dict(
    type='BokehStackGenerator',
    backend=dict(
        type='diffusion',
        pretrained='checkpoints/FLUX.1-Kontext-dev',
        adapter_weights='checkpoints/bokeh_lora.bin',
        adapter=dict(block_ids='0-56', context_dim=768, lora_rank=128, lora_alpha=128, adapt_q=True, adapt_k=True),
        num_inference_steps=50,
        guidance_scale=7.0,
        dtype='bfloat16',
        device=None,
        color_transfer=False),
    k_values=[1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0],
    seed=42)
