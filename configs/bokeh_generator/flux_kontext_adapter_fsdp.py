# The Stage-1 adapter recipe of flux_kontext_adapter.py with the 12 B frozen FLUX.1-Kontext (and T5) sharded over
# the GPUs by FSDP, through mmengine's FlexibleRunner (tools/train.py builds it from `runner_type`):
#   torchrun --nproc_per_node 8 tools/train.py configs/bokeh_generator/flux_kontext_adapter_fsdp.py --launcher pytorch
# Alternative: strategy=dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=3), bf16=dict(enabled=True))
# with optim_wrapper=dict(type='DeepSpeedOptimWrapper', optimizer=...) (needs `pip install deepspeed`).
# Needs CUDA (NCCL): not exercised by the CPU test-suite. AdapterFSDPStrategy is mmengine's FSDPStrategy whose
# checkpoints keep only the adapter (state_dict_cfg='full': gathered on rank 0, the frozen base's entries dropped).
_base_ = ['./flux_kontext_adapter.py']

runner_type = 'FlexibleRunner'
model = dict(device='cpu')  # load the base into CPU memory; FSDP moves each shard to its GPU while wrapping
strategy = dict(
    type='mmbokeh.generators.diffusion.adapter_model.AdapterFSDPStrategy',
    model_wrapper=dict(
        # one FSDP unit per FLUX / T5 block; the adapter's processors are sharded with the block they sit in
        auto_wrap_policy=dict(type='mmbokeh.generators.diffusion.adapter_model.flux_block_wrap_policy'),
        use_orig_params=True,  # frozen base and trained adapter parameters share units
        sharding_strategy='FULL_SHARD'),
    state_dict_cfg='full')
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', use_fsdp=True)  # ShardedGradScaler
