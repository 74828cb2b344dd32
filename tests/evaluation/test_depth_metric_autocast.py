"""DepthMetric on predictions made under CPU autocast (bfloat16, float16): the metrics of a low-precision prediction
are finite and within the rounding of the prediction of those of the float32 prediction, including images without a
valid ground-truth pixel (skipped with a warning) and predictions the low precision turned into 0 or inf (scored as
min_depth, with a warning)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmbokeh.evaluation import DEPTH_METRIC_KEYS, DepthMetric
from mmbokeh.structures import DepthDataSample

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}
#: per-metric absolute tolerance against float32 predictions: the prediction is rounded to 8 (bf16) or 11 (fp16)
#: mantissa bits, a relative error of at most 2^-9 or 2^-12 per pixel; the d thresholds may flip a few pixels.
TOL = {'bfloat16': dict(d=0.02, rel=1e-2), 'float16': dict(d=0.005, rel=2e-3)}
N, H, W = 4, 24, 32


def _samples(preds, gts):
    out = []
    for i, (pred, gt) in enumerate(zip(preds, gts)):
        ds = DepthDataSample(metainfo=dict(img_path=f'data/scene/{i}.png'))
        ds.pred_depth = PixelData(data=pred)  # the dtype the model gave
        ds.gt_depth = PixelData(data=gt)
        out.append(ds.to_dict())
    return out


def _ground_truth():
    """N [1, H, W] maps in metres: image 1 has no valid pixel (all 0), image 2 holes, NaN, inf and negatives."""
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(N, 1, H, W, generator=g) * 9 + 0.5
    gt[1] = 0.0
    bad = torch.rand(1, H, W, generator=g)
    gt[2][bad < 0.1] = 0.0
    gt[2][(bad >= 0.1) & (bad < 0.15)] = float('nan')
    gt[2][(bad >= 0.15) & (bad < 0.2)] = float('inf')
    gt[2][(bad >= 0.2) & (bad < 0.25)] = -1.0
    return gt


def _head_predictions(dtype):
    """Depth of a small conv head run under autocast to ``dtype`` (None: float32 without autocast)."""
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N, 8, H, W, generator=g)
    head = torch.nn.Conv2d(8, 1, 3, padding=1)
    torch.nn.init.normal_(head.weight, std=0.3, generator=g)
    torch.nn.init.constant_(head.bias, 1.0)
    with torch.no_grad(), torch.autocast('cpu', dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        depth = torch.nn.functional.softplus(head(feats)) * 3
    assert depth.dtype == (dtype or torch.float32)
    return depth


def _evaluate(preds, gts, monkeypatch, autocast_dtype=None):
    logged = []
    monkeypatch.setattr('mmbokeh.evaluation.depth_metric.print_log', lambda msg, **kw: logged.append(msg))
    metric = DepthMetric(min_depth=1e-3, max_depth=10.0)
    with torch.autocast('cpu', dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
        metric.process({}, _samples(preds, gts))
    return metric.compute_metrics(metric.results), metric, logged


@pytest.mark.parametrize('dtype', list(DTYPES))
def test_metrics_of_an_autocast_prediction_match_float32(dtype, monkeypatch):
    gt = _ground_truth()
    ref, ref_metric, _ = _evaluate(_head_predictions(None), gt, monkeypatch)
    low, metric, logged = _evaluate(_head_predictions(DTYPES[dtype]), gt, monkeypatch, DTYPES[dtype])
    assert set(low) == set(DEPTH_METRIC_KEYS)
    for key in DEPTH_METRIC_KEYS:
        assert np.isfinite(low[key]), f'{key} = {low[key]} under {dtype}'
        tol = TOL[dtype]['d'] if key.startswith('d') else TOL[dtype]['rel'] * max(abs(ref[key]), 1e-3)
        assert abs(low[key] - ref[key]) <= tol, f'{key}: {dtype} {low[key]} vs float32 {ref[key]}'
    assert 0.05 < ref['d1'] < 0.95 and ref['abs_rel'] > 0.1  # not a trivial (perfect or hopeless) prediction
    # the image without a valid pixel is skipped, with a warning naming the count
    assert metric.num_skipped == ref_metric.num_skipped == 1
    assert any('1 of 4 images had no valid ground-truth pixel and were skipped' in m for m in logged)


@pytest.mark.parametrize('dtype', list(DTYPES))
def test_depths_the_low_precision_cannot_hold_are_scored_not_propagated(dtype, monkeypatch):
    """fp16 flushes 1e-8 m to 0 and overflows 1e5 m to inf; bf16 keeps both but rounds; a NaN stays NaN. Each such
    pixel is scored as min_depth (and counted), never a NaN or inf metric."""
    gt = torch.full((1, 1, H, W), 2.0)
    pred32 = torch.full((1, 1, H, W), 2.0)
    pred32[..., 0, :4] = 1e-8
    pred32[..., 1, :4] = 1e5
    pred32[..., 2, :4] = float('nan')
    pred = pred32.to(DTYPES[dtype])
    metrics, metric, logged = _evaluate(pred, gt, monkeypatch, DTYPES[dtype])
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    bad = int((~torch.isfinite(pred.float()) | (pred.float() <= 0)).sum())
    assert bad == (12 if dtype == 'float16' else 4)  # 0, inf and NaN in fp16; only the NaN in bf16
    assert metric.results[0]['invalid_pred_pixels'] == bad
    assert any(f'{bad} evaluated pixels in 1 images had a NaN, infinite or non-positive prediction' in m
               for m in logged)
    # 12 of H * W pixels are wrong (min_depth, or 1e-8 / 1e5 m in bf16 before clipping to [1e-3, 10] m)
    assert metrics['d1'] == pytest.approx(1 - 12 / (H * W))


def test_all_invalid_ground_truth_under_autocast_is_skipped_or_named(monkeypatch):
    """A low-precision ground truth of zeros and NaN: every image skipped with a warning; a run where no image
    has a valid pixel raises, naming the range and the units (no NaN metrics)."""
    pred = _head_predictions(torch.bfloat16)[:2]
    gt = torch.zeros(2, 1, H, W, dtype=torch.bfloat16)
    gt[1] = float('nan')
    with pytest.raises(ValueError, match=r'none of the 2 images has a ground-truth pixel in \(0.001, 10.0\) m.*'
                                         r'depth units'):
        _evaluate(pred, gt, monkeypatch, torch.bfloat16)
    gt = torch.cat([gt, torch.full((1, 1, H, W), 3.0, dtype=torch.bfloat16)])
    pred = _head_predictions(torch.bfloat16)[:3]
    metrics, metric, logged = _evaluate(pred, gt, monkeypatch, torch.bfloat16)
    assert metric.num_skipped == 2 and all(np.isfinite(v) for v in metrics.values())
    assert any('2 of 3 images had no valid ground-truth pixel and were skipped' in m for m in logged)
