"""BokehDepthEstimator: mmseg's contract (loss / predict / _forward on the input dict), the fused path through
``mode='tensor'``, the loss computed by the head, parts checked by their declared interfaces."""
from pathlib import Path

import pytest
import torch
from mmengine.structures import PixelData

from mmbokeh.apis import init_model
from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

FUSED_CONFIG = Path(__file__).parents[2] / 'configs/bokehdepth/dav2-s_synthetic.py'


def _model():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmbokeh.BokehDepthEstimator',
        backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                      img_size=64),
        decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0),
        data_preprocessor=dict(type='mmbokeh.DepthDataPreprocessor', pad_size_divisor=16)))


def _batch(h, w, ori=None):
    s = DepthDataSample(metainfo=dict(img_shape=(h, w), ori_shape=ori or (h, w)))
    s.gt_depth = PixelData(data=torch.rand(1, h, w) * 5 + 1)
    return dict(inputs=dict(img=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)]), data_samples=[s])


def test_loss_ignores_padding_and_out_of_range_depth():
    model = _model()
    data = model.data_preprocessor(_batch(40, 50), training=True)
    loss = model(**data, mode='loss')['loss_silog']
    gt = data['data_samples'][0].gt_depth.data
    assert gt.shape == (1, 48, 64)
    gt[:, :, 50:] = 0  # padding stays invalid
    gt[:, :5] = 50.0   # beyond max_depth: invalid too
    pred = model(data['inputs'], mode='tensor')
    assert pred.shape == (1, 1, 48, 64)
    valid = (gt > 1e-3) & (gt <= 10)
    diff = torch.log(gt[valid]) - torch.log(pred[0][valid])
    expected = torch.sqrt((diff ** 2).mean() - 0.5 * diff.mean() ** 2)
    data['data_samples'][0].gt_depth = type(data['data_samples'][0].gt_depth)(data=gt)
    torch.testing.assert_close(model(**data, mode='loss')['loss_silog'], expected, rtol=1e-4, atol=1e-5)
    assert loss.requires_grad


def test_predict_crops_padding_and_resizes_to_original():
    model = _model().eval()
    data = model.data_preprocessor(_batch(40, 50, ori=(80, 100)), training=False)
    with torch.no_grad():
        raw = model(data['inputs'], mode='tensor')
        out = model(**data, mode='predict')[0]
    assert out.pred_depth.data.shape == (1, 80, 100)
    cropped = raw[:, :, :40, :50]
    expected = torch.nn.functional.interpolate(cropped, (80, 100), mode='bilinear', align_corners=True)[0]
    torch.testing.assert_close(out.pred_depth.data, expected)


def _fused_batch(model, frames=3, seed=0):
    """A preprocessed batch of two samples with bokeh stacks, as the data pipeline makes it."""
    gen = torch.Generator().manual_seed(seed)
    size = (3, 28, 42)
    raw = dict(img=[torch.randint(0, 256, size, generator=gen, dtype=torch.uint8) for _ in range(2)],
               stack=[torch.randint(0, 256, (frames, ) + size, generator=gen, dtype=torch.uint8) for _ in range(2)],
               stack_k=[torch.tensor([10., 20., 30.][:frames]), torch.tensor([5., 15., 25.][:frames])])
    samples = []
    for _ in range(2):
        sample = DepthDataSample(metainfo=dict(img_shape=size[1:], ori_shape=size[1:]))
        sample.gt_depth = PixelData(data=torch.rand(1, *size[1:], generator=gen) * 5 + 1)
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=raw, data_samples=samples), training=True)


def test_tensor_mode_runs_the_fused_path():
    torch.manual_seed(0)
    model = init_model(FUSED_CONFIG, cfg_options={'model.neck.layerscale_init': 1.0, 'load_from': None})
    data = _fused_batch(model)
    inputs = data['inputs']
    with torch.no_grad():
        out = model(inputs, mode='tensor')
        fused = model.forward_depth(inputs['img'], inputs['stack'], inputs['stack_k'])
        plain = model(dict(img=inputs['img']), mode='tensor')
    assert out.shape == (2, 1, 28, 42)
    assert torch.equal(out[:, 0], fused)
    assert (out - plain).abs().max() > 1e-4  # the stack changes the output: tensor mode did not skip it


def test_loss_is_the_heads_loss_of_the_fused_features():
    torch.manual_seed(0)
    model = init_model(FUSED_CONFIG, cfg_options={'model.neck.layerscale_init': 1.0, 'load_from': None}).train()
    data = _fused_batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_silog'}
    pred = model(data['inputs'], mode='tensor')
    gt = torch.stack([s.gt_depth.data for s in data['data_samples']])
    torch.testing.assert_close(losses['loss_silog'], model.decode_head.loss_decode[0](pred, gt, gt > 1e-3))
    losses['loss_silog'].backward()
    assert all(p.grad is not None for p in model.neck.parameters() if p.requires_grad)


@MODELS.register_module(name='TestOnlyIdentityModule', force=True)
class _Identity(torch.nn.Identity):
    """A module that implements none of the part interfaces."""


def test_parts_are_checked_by_their_interfaces():
    cfg = dict(type='mmbokeh.BokehDepthEstimator',
               backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                             img_size=32),
               decode_head=dict(type='mmbokeh.DPTHead', features=8, out_channels=[8, 8, 8, 8]))
    with pytest.raises(ValueError, match=r'fuse_taps \[4\] out of range for an encoder with 4 taps'):
        MODELS.build(dict(cfg, neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=[4])))
    with pytest.raises(ValueError, match='in_channels=384 but .* width embed_dim=192; set model.neck.in_channels'):
        MODELS.build(dict(cfg, neck=dict(type='mmbokeh.DefocusAggregation', in_channels=384, fuse_taps=[1])))
    with pytest.raises(ValueError, match='fuse_taps must be a non-empty list'):
        MODELS.build(dict(cfg, neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=[])))
    with pytest.raises(TypeError, match=r"neck _Identity does not implement StackFusionNeck: missing \['in_channels'"):
        MODELS.build(dict(cfg, neck=dict(type='mmbokeh.TestOnlyIdentityModule')))
    with pytest.raises(TypeError, match=r"backbone _Identity does not implement TapBackbone: missing \['embed_dim"):
        MODELS.build(dict(cfg, backbone=dict(type='mmbokeh.TestOnlyIdentityModule')))
    model = MODELS.build(dict(cfg, neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=[1])))
    img = torch.randn(1, 3, 32, 32)
    with pytest.raises(KeyError, match="needs 'stack_k'|needs 'stack_k' \\(bokeh strengths\\)"):
        model(dict(img=img, stack=img[:, None]), mode='tensor')
    with pytest.raises(ValueError, match=r"inputs\['stack'\] must be \[B, S, 3, H, W\]"):
        model(dict(img=img, stack=img[:, None, :, :16], stack_k=torch.ones(1, 1)), mode='tensor')
