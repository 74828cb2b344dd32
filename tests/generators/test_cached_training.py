"""Stacks in the official BokehDepth layout feed a training run (Runner, BokehDepthEstimator with the DSFA neck)."""
import copy

import numpy as np
import torch
from mmengine.runner import Runner

# (pytest puts this test folder on sys.path: it has no __init__.py)
from test_stack_cache import write_official

import mmbokeh.datasets  # noqa: F401
import mmbokeh.datasets.transforms.bokeh_stack  # noqa: F401
import mmbokeh.models  # noqa: F401
from mmbokeh.datasets import SyntheticDefocusDataset

SIZE = (64, 64)
K = [1.0, 11.0, 30.0]


def test_official_layout_stacks_feed_a_training_run(tmp_path):
    root = tmp_path / 'stacks'
    data = SyntheticDefocusDataset(num_samples=2, img_size=SIZE, seed=0)
    for i in range(2):  # "diffusion" frames: any images; here darkened copies of the input, as RGB PNGs
        img_rgb = data.get_data_info(i)['img'][..., ::-1]
        write_official(root, f'train/{i:06d}', [(img_rgb * (1 - j / 4)).astype(np.uint8) for j in range(3)], K)
    pipeline = [dict(type='BokehStackGenerator', backend=dict(type='cached', root=str(root))),
                dict(type='RandomFlip', prob=0.5), dict(type='PackDepthInputs')]
    model = dict(
        type='mmbokeh.BokehDepthEstimator',
        data_preprocessor=dict(type='mmbokeh.DepthDataPreprocessor', pad_size_divisor=16),
        backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                      img_size=64),
        decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0),
        neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=[2, 3], num_heads=4))
    runner = Runner(
        model=model, work_dir=str(tmp_path / 'work'), default_scope='mmbokeh',
        train_dataloader=dict(batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=False),
                              dataset=dict(type='SyntheticDefocusDataset', num_samples=2, img_size=SIZE, seed=0,
                                           pipeline=pipeline)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(by_epoch=False, max_iters=2), default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    seen = []
    runner.model.neck.register_forward_pre_hook(lambda m, args: seen.append(args[1].detach().clone()))
    before = copy.deepcopy(runner.model.neck.state_dict())
    runner.train()
    assert len(seen) == 2
    for k in seen:  # the estimator prepends the reference frame (K = 0) to the stored K
        np.testing.assert_allclose(k.numpy(), [[0.0] + K] * 2)
    after = runner.model.neck.state_dict()
    assert any(not torch.equal(before[n], after[n]) for n in before)  # the neck trained on the cached stacks
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss)
