default_scope = 'mmbokeh'
custom_imports = dict(imports=['mmbokeh'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/*.py switch to gloo on machines without a GPU
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DepthLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes: a kill while saving never leaves a truncated iter_N.pth or last_checkpoint
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DepthVisualizationHook'),
    # FaultTolerantDataset(skip_corrupt=True): the count of skipped samples per epoch / val / test run, summed over
    # dataloader workers and ranks (a no-op for other datasets)
    skipped_samples=dict(type='SkippedSamplesHook'),
)
