"""Fuzz of the depth losses (SiLogLoss, L1DepthLoss, MSEDepthLoss) and ``DepthMetric``: random shapes (empty and
1x1 included), dtypes (float16/32/64, bfloat16, int64, bool), NaN/inf and non-positive values in predictions and
ground truth, all-invalid depth, bad masks and crops. A loss must be a finite scalar unless a *valid* pixel held a
non-finite value (a NaN in a masked-out pixel must not leak); the metric must give finite metrics (a bad prediction
is scored, not propagated) or raise ValueError/KeyError/TypeError naming the offending input. Seeds: see
``conftest.py`` (derandomized)."""
import numpy as np
import torch
from fuzz_helpers import assert_finite, np_array, run_or_reject
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbokeh.evaluation import DepthMetric
from mmbokeh.models.losses import L1DepthLoss, MSEDepthLoss, SiLogLoss

TORCH_DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'float16': torch.float16,
                'bfloat16': torch.bfloat16, 'int64': torch.int64, 'bool': torch.bool}
LOSS_NAMES = ('pred', 'target', 'valid_mask', 'lambd', 'eps')


def _tensor(draw, shape, dtype, lo, hi, special_prob):
    if dtype == 'bfloat16':
        return torch.from_numpy(np_array(draw, shape, 'float32', lo, hi, special_prob)).to(torch.bfloat16)
    return torch.from_numpy(np_array(draw, shape, dtype, lo, hi, special_prob))


@settings(max_examples=400)
@given(data=st.data(), loss_cls=st.sampled_from([SiLogLoss, L1DepthLoss, MSEDepthLoss]),
       b=st.integers(0, 2), h=st.integers(0, 5), w=st.integers(0, 5), channel=st.booleans(),
       pred_dtype=st.sampled_from(['float32'] * 4 + ['float64', 'float16', 'bfloat16', 'int64', 'bool']),
       target_dtype=st.sampled_from(['float32'] * 4 + ['float64', 'float16', 'int64']),
       mask_kind=st.sampled_from(['none', 'none', 'bool', 'float', 'shape']), all_invalid=st.booleans(),
       lambd=st.floats(-0.5, 1.5), eps=st.sampled_from([1e-6, 1e-3, 0.0, -1.0]))
def test_losses(data, loss_cls, b, h, w, channel, pred_dtype, target_dtype, mask_kind, all_invalid, lambd, eps):
    kwargs = dict(lambd=lambd, eps=eps) if loss_cls is SiLogLoss else {}
    loss = run_or_reject(lambda: loss_cls(**kwargs), LOSS_NAMES)
    if loss is None:
        return
    shape = (b, 1, h, w) if channel else (b, h, w)
    bad_shapes = [(b, 2, h, w), (h, w), (b, h + 1, w)]
    pshape = shape if data.draw(st.integers(0, 9)) else data.draw(st.sampled_from(bad_shapes))
    pred = _tensor(data.draw, pshape, pred_dtype, -1.0, 20.0, 0.3).requires_grad_(pred_dtype not in ('int64', 'bool'))
    target = _tensor(data.draw, shape, target_dtype, -1.0 if not all_invalid else -5.0,
                     20.0 if not all_invalid else 0.0, 0.3)
    mask = None
    if mask_kind == 'bool':
        mask = torch.from_numpy(np_array(data.draw, shape, 'bool'))
    elif mask_kind == 'float':
        mask = torch.ones(shape)
    elif mask_kind == 'shape':
        mask = torch.ones((b, h + 1, w), dtype=torch.bool)
    out = run_or_reject(lambda: loss(pred, target, mask), LOSS_NAMES)
    if out is None:
        return
    assert out.dim() == 0 and out.is_floating_point()
    used = target > 0
    if mask is not None:
        used = used & mask
    poisoned = bool((~torch.isfinite(pred.float()[used])).any()) or bool((~torch.isfinite(target.float()[used])).any())
    if not poisoned:
        assert_finite(type(loss).__name__, out)
        if pred.requires_grad:
            out.backward()
            assert pred.grad is not None
            assert_finite('grad', pred.grad)


METRIC_NAMES = ('pred_depth', 'gt_depth', 'crop', 'min_depth', 'max_depth', 'median_scaling', 'ground-truth pixel')


@st.composite
def metric_samples(draw):
    h, w = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    shape = draw(st.sampled_from([(1, h, w)] * 4 + [(h, w), (2, h, w)]))
    gshape = shape if draw(st.integers(0, 9)) else (h + 1, w)
    as_tensor = draw(st.booleans())
    pred = np_array(draw, shape, draw(st.sampled_from(['float32', 'float64', 'float16', 'int64', 'bool', 'uint16'])),
                    -1.0, 15.0, 0.3)
    lo, hi = (-3.0, 0.0) if draw(st.integers(0, 6)) == 0 else (0.0, 15.0)  # sometimes all invalid
    gt = np_array(draw, gshape, draw(st.sampled_from(['float32', 'float64', 'float16', 'uint16'])), lo, hi, 0.3)
    if as_tensor and pred.dtype != np.uint16 and gt.dtype != np.uint16:
        pred, gt = torch.from_numpy(pred), torch.from_numpy(gt)
    sample = dict(pred_depth=dict(data=pred), img_path=f'dir/img{draw(st.integers(0, 9))}.png')
    if draw(st.integers(0, 9)):
        sample['gt_depth'] = dict(data=gt)
    return sample


@settings(max_examples=300)
@given(samples=st.lists(metric_samples(), min_size=1, max_size=3),
       depth_range=st.sampled_from([(1e-3, 10.0), (0.0, 10.0), (0.5, 5.0), (5.0, 1.0), (-1.0, 10.0)]),
       crop=st.sampled_from([None, None, (0, 2, 0, 2), (1, 3, 1, 3), (0, 9, 0, 9), 'nyu_eigen', (2, 1, 0, 1)]),
       median_scaling=st.booleans(), clip_pred=st.booleans(),
       protocol=st.sampled_from([None, None, 'all', 'dered_lt0.5m', 'dfv_1.5m']), allow_missing_gt=st.booleans())
def test_depth_metric(samples, depth_range, crop, median_scaling, clip_pred, protocol, allow_missing_gt):
    metric = run_or_reject(lambda: DepthMetric(*depth_range, crop=crop, median_scaling=median_scaling,
                                               clip_pred=clip_pred, protocol=protocol,
                                               allow_missing_gt=allow_missing_gt), METRIC_NAMES)
    if metric is None:
        return
    if run_or_reject(lambda: metric.process({}, samples) or True, METRIC_NAMES) is None:
        return
    metrics = run_or_reject(lambda: metric.compute_metrics(metric.results), METRIC_NAMES)
    if metrics is None:
        return
    for key, value in metrics.items():
        assert np.isfinite(value), f'{key} = {value}'
