"""BokehDepthEstimator(cp_frames='stack'): only the stack frames' encoder passes are checkpointed, same numbers."""
import pytest
import torch

from mmbokeh.models.backbones import timm_vit
from mmbokeh.registry import MODELS


def _estimator(**kwargs):
    torch.manual_seed(0)
    with_cp = kwargs.pop('with_cp', True)
    return MODELS.build(dict(
        type='mmbokeh.BokehDepthEstimator',
        backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                      img_size=64, with_cp=with_cp),
        decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0,
                         loss_decode=dict(type='mmbokeh.SiLogLoss')),
        neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=[2, 3], num_heads=4, init='official'),
        **kwargs)).train()


def test_stack_only_checkpointing_keeps_outputs_and_gradients(monkeypatch):
    batches = []
    real = timm_vit.checkpoint
    monkeypatch.setattr(timm_vit, 'checkpoint', lambda fn, x, **k: batches.append(len(x)) or real(fn, x, **k))
    image, stack, k = torch.randn(2, 3, 64, 64), torch.randn(2, 2, 3, 64, 64), torch.tensor([[5., 25.]] * 2)
    results = {}
    for name, kwargs in (('none', dict(with_cp=False)), ('all', {}), ('stack', dict(cp_frames='stack')),
                         ('stack-every2', dict(cp_frames='stack', with_cp=list(range(0, 12, 2))))):
        batches.clear()
        model = _estimator(**kwargs)
        depth = model.forward_depth(image, stack, k)
        depth.mean().backward()
        results[name] = (depth.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        expected = {'none': [], 'all': [6] * 12, 'stack': [4] * 12, 'stack-every2': [4] * 6}[name]
        assert batches == expected, name  # 'stack': the reference frames (2) are never checkpointed
    for name in ('all', 'stack', 'stack-every2'):
        torch.testing.assert_close(results[name][0], results['none'][0], rtol=1e-5, atol=1e-6)
        assert results[name][1].keys() == results['none'][1].keys()
        for param, grad in results[name][1].items():
            torch.testing.assert_close(grad, results['none'][1][param], rtol=1e-4, atol=1e-6, msg=f'{name} {param}')


def test_cp_frames_is_validated():
    with pytest.raises(ValueError, match='cp_frames'):
        _estimator(cp_frames='reference')
