import math
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from mmbokeh.evaluation import DEPTH_METRIC_KEYS, DepthMetric
from mmbokeh.registry import METRICS
from mmbokeh.structures import DepthDataSample

LN10 = math.log(10.0)


def sample(pred, gt, img_path='data/scene/img.png'):
    """A data sample as mmengine's evaluator passes it to process(): a dict from DepthDataSample.to_dict()."""
    ds = DepthDataSample(metainfo=dict(img_path=img_path))
    ds.pred_depth = PixelData(data=torch.as_tensor(pred, dtype=torch.float32).view(1, *np.shape(pred)))
    ds.gt_depth = PixelData(data=torch.as_tensor(gt, dtype=torch.float32).view(1, *np.shape(gt)))
    return ds.to_dict()


def evaluate(metric, *samples):
    metric.process({}, list(samples))
    return metric.compute_metrics(metric.results)


def test_every_metric_by_hand():
    # two pixels: pred == gt, and pred = 10 * gt.  e = log(pred) - log(gt) = [0, ln 10]
    m = evaluate(DepthMetric(max_depth=20.0), sample([[1.0, 10.0]], [[1.0, 1.0]]))
    assert set(m) == set(DEPTH_METRIC_KEYS)
    expected = {
        'd1': 0.5, 'd2': 0.5, 'd3': 0.5,
        'abs_rel': (0 + 9 / 1) / 2,
        'sq_rel': (0 + 81 / 1) / 2,
        'rmse': math.sqrt(81 / 2),
        'rmse_log': math.sqrt(LN10 ** 2 / 2),
        'log10': (0 + 1) / 2,
        'silog': math.sqrt(LN10 ** 2 / 2 - (LN10 / 2) ** 2) * 100,  # = 50 ln 10
    }
    for k, v in expected.items():
        assert m[k] == pytest.approx(v, rel=1e-6), k
    assert m['silog'] == pytest.approx(50 * LN10, rel=1e-6)


def test_delta_thresholds_separate():
    # ratios 1, 1.2 (< 1.25), 1.5 (< 1.5625), 1.9 (< 1.953125), 2.5 (none); under- and over-estimates alike
    gt = [[1.0, 1.0, 3.0, 1.0, 5.0]]
    pred = [[1.0, 1.2, 2.0, 1.9, 2.0]]
    m = evaluate(DepthMetric(), sample(pred, gt))
    assert (m['d1'], m['d2'], m['d3']) == pytest.approx((2 / 5, 3 / 5, 4 / 5))
    assert m['abs_rel'] == pytest.approx((0 + 0.2 + 1 / 3 + 0.9 + 3 / 5) / 5)
    assert m['sq_rel'] == pytest.approx((0 + 0.04 + 1 / 3 + 0.81 + 9 / 5) / 5)


def bts_compute_errors(gt, pred):
    """BTS's compute_errors (public formulas), written out independently as a reference."""
    thresh = np.maximum(gt / pred, pred / gt)
    d1, d2, d3 = [(thresh < 1.25 ** i).mean() for i in (1, 2, 3)]
    rmse = np.sqrt(((gt - pred) ** 2).mean())
    rmse_log = np.sqrt(((np.log(gt) - np.log(pred)) ** 2).mean())
    abs_rel = np.mean(np.abs(gt - pred) / gt)
    sq_rel = np.mean(((gt - pred) ** 2) / gt)
    err = np.log(pred) - np.log(gt)
    silog = np.sqrt(np.mean(err ** 2) - np.mean(err) ** 2) * 100
    log10 = np.mean(np.abs(np.log10(gt) - np.log10(pred)))
    return dict(d1=d1, d2=d2, d3=d3, abs_rel=abs_rel, sq_rel=sq_rel, rmse=rmse, rmse_log=rmse_log, log10=log10,
                silog=silog)


def test_matches_bts_reference_with_invalid_pixels_and_clipping():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.5, (12, 16)).astype(np.float32)
    pred = (gt * rng.uniform(0.6, 1.6, gt.shape)).astype(np.float32)
    gt[0, :4] = 0.0       # no depth
    gt[1, :4] = 10.0      # at the cap: (min, max) is open, excluded
    gt[2, :4] = 1e-3      # at the floor: excluded
    gt[3, :4] = np.nan    # missing
    pred[5, :3] = 25.0    # clipped to max_depth
    pred[6, :3] = -1.0    # clipped to min_depth
    m = evaluate(DepthMetric(min_depth=1e-3, max_depth=10.0), sample(pred, gt))
    valid = (gt > 1e-3) & (gt < 10.0)
    assert valid.sum() == 12 * 16 - 16
    ref = bts_compute_errors(gt[valid].astype(np.float64), np.clip(pred[valid], 1e-3, 10.0).astype(np.float64))
    for k in DEPTH_METRIC_KEYS:
        assert m[k] == pytest.approx(ref[k], rel=1e-5), k


def test_invalid_pixels_do_not_change_the_result():
    gt = np.array([[1.0, 2.0, 0.0, 12.0]])
    pred = np.array([[1.0, 4.0, 7.0, 1.0]])
    m_full = evaluate(DepthMetric(), sample(pred, gt))
    m_valid = evaluate(DepthMetric(), sample(pred[:, :2], gt[:, :2]))
    assert m_full == m_valid
    assert m_full['abs_rel'] == pytest.approx((0 + 1.0) / 2)


def test_clip_pred():
    # pred 20 m on a 1 m gt: clipped to max_depth 10 -> abs_rel 9; unclipped -> 19
    assert evaluate(DepthMetric(), sample([[20.0]], [[1.0]]))['abs_rel'] == pytest.approx(9.0)
    assert evaluate(DepthMetric(clip_pred=False), sample([[20.0]], [[1.0]]))['abs_rel'] == pytest.approx(19.0)
    # a zero prediction is clipped to min_depth 0.5 -> abs_rel 0.5
    assert evaluate(DepthMetric(min_depth=0.5), sample([[0.0]], [[1.0]]))['abs_rel'] == pytest.approx(0.5)


def test_per_image_average_not_pooled():
    # image A: 1 pixel, abs_rel 1; image B: 3 pixels, abs_rel 0 -> mean over images 0.5 (pooled would be 0.25)
    m = evaluate(DepthMetric(), sample([[2.0]], [[1.0]]), sample([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]))
    assert m['abs_rel'] == pytest.approx(0.5)
    assert m['d1'] == pytest.approx(0.5)


def test_images_without_valid_pixel_are_skipped_and_counted():
    metric = DepthMetric()
    m = evaluate(metric, sample([[2.0]], [[1.0]]), sample([[5.0, 5.0]], [[0.0, 0.0]]))
    assert m['abs_rel'] == pytest.approx(1.0)
    assert metric.num_skipped == 1
    with pytest.raises(ValueError, match='check the depth units'):
        evaluate(DepthMetric(), sample([[5.0]], [[0.0]]))


def test_median_scaling():
    # medians: gt 4, pred 2 -> pred * 2 == gt exactly
    m = evaluate(DepthMetric(median_scaling=True), sample([[1.0, 2.0, 3.0]], [[2.0, 4.0, 6.0]]))
    assert m['abs_rel'] == pytest.approx(0.0, abs=1e-12) and m['d1'] == 1.0
    # even count: median gt = 2.5 (mean of the middle two), pred median 1 -> pred 2.5 everywhere
    m = evaluate(DepthMetric(median_scaling=True), sample([[1.0] * 4], [[1.0, 2.0, 3.0, 4.0]]))
    assert m['abs_rel'] == pytest.approx((1.5 / 1 + 0.5 / 2 + 0.5 / 3 + 1.5 / 4) / 4)
    # the scale uses valid pixels only: the invalid one (gt 0, pred 100) must not move the medians
    m = evaluate(DepthMetric(median_scaling=True), sample([[1.0, 2.0, 3.0, 100.0]], [[2.0, 4.0, 6.0, 0.0]]))
    assert m['abs_rel'] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match='positive median'):
        evaluate(DepthMetric(median_scaling=True), sample([[0.0, 0.0]], [[1.0, 2.0]]))


def test_nyu_eigen_crop():
    gt = np.ones((480, 640), np.float32)
    pred = np.full((480, 640), 5.0, np.float32)
    pred[45:471, 41:601] = 1.0
    m = evaluate(DepthMetric(crop='nyu_eigen'), sample(pred, gt))
    assert m['abs_rel'] == 0.0 and m['d1'] == 1.0
    inside = 426 * 560
    assert evaluate(DepthMetric(), sample(pred, gt))['abs_rel'] == pytest.approx(4 * (1 - inside / (480 * 640)))
    # one wrong pixel on each border just outside the crop, one just inside
    pred2 = np.ones((480, 640), np.float32)
    pred2[44, 100] = pred2[471, 100] = pred2[100, 40] = pred2[100, 601] = 5.0
    assert evaluate(DepthMetric(crop='nyu_eigen'), sample(pred2, gt))['abs_rel'] == 0.0
    pred2[45, 41] = 5.0
    assert evaluate(DepthMetric(crop='nyu_eigen'), sample(pred2, gt))['abs_rel'] == pytest.approx(4 / inside)
    with pytest.raises(ValueError, match='480x640.*240x320.*img_path=data/scene/img.png'):
        evaluate(DepthMetric(crop='nyu_eigen'), sample(np.ones((240, 320)), np.ones((240, 320))))


def test_tuple_and_list_crop():
    gt = np.ones((4, 5))
    pred = np.full((4, 5), 3.0)
    pred[1:3, 2:4] = 1.0
    for crop in ((1, 3, 2, 4), [1, 3, 2, 4]):
        assert evaluate(DepthMetric(crop=crop), sample(pred, gt))['abs_rel'] == 0.0
    with pytest.raises(ValueError, match='does not fit a 4x5'):
        evaluate(DepthMetric(crop=(0, 5, 0, 5)), sample(pred, gt))
    for bad in ('kitti', (1, 2, 3), 3):
        with pytest.raises(ValueError, match='crop must be'):
            DepthMetric(crop=bad)


def test_mismatched_shapes_error_names_both_and_path():
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(4, 6\).*img_path=x/y\.png'):
        DepthMetric().process({}, [sample(np.ones((2, 3)), np.ones((4, 6)), img_path='x/y.png')])


def test_missing_key_error():
    with pytest.raises(KeyError, match='gt_depth'):
        DepthMetric().process({}, [dict(pred_depth=dict(data=torch.ones(1, 2, 2)), img_path='a.png')])


def test_output_dir_saves_raw_predictions(tmp_path):
    pred = np.array([[1.5, 20.0]], np.float32)
    metric = DepthMetric(output_dir=str(tmp_path / 'preds'))
    evaluate(metric, sample(pred, [[1.0, 1.0]], img_path='nyu/kitchen_0001/rgb_00001.jpg'),
             sample(pred * 2, [[1.0, 1.0]], img_path='synthetic://demo/3'))
    files = sorted(os.listdir(tmp_path / 'preds'))
    assert files == ['demo_3.npy', 'kitchen_0001_rgb_00001.npy']
    np.testing.assert_array_equal(np.load(tmp_path / 'preds' / 'kitchen_0001_rgb_00001.npy'), pred)
    np.testing.assert_array_equal(np.load(tmp_path / 'preds' / 'demo_3.npy'), pred * 2)


def test_through_mmengine_evaluator_with_data_samples_and_prefix():
    evaluator = Evaluator([dict(type='mmbokeh.DepthMetric', prefix='nyu')])
    samples = []
    for pred, gt in (([[1.0, 10.0]], [[1.0, 1.0]]), ([[2.0, 2.0]], [[2.0, 2.0]])):
        ds = DepthDataSample(metainfo=dict(img_path='a.png'))
        ds.pred_depth = PixelData(data=torch.tensor(pred).view(1, 1, 2))
        ds.gt_depth = PixelData(data=torch.tensor(gt).view(1, 1, 2))
        samples.append(ds)
    evaluator.process(samples, {})
    m = evaluator.evaluate(2)
    assert set(m) == {f'nyu/{k}' for k in DEPTH_METRIC_KEYS}
    assert m['nyu/abs_rel'] == pytest.approx((4.5 + 0) / 2)  # pred 10 m is inside [min, max]: not clipped
    assert m['nyu/log10'] == pytest.approx(0.25)


def test_registry():
    metric = METRICS.build(dict(type='DepthMetric', crop='nyu_eigen', max_depth=80.0))
    assert isinstance(metric, DepthMetric) and metric.max_depth == 80.0 and metric.prefix is None


@pytest.mark.parametrize('clip_pred', [True, False])
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -1.0, 0.0])
def test_bad_predictions_are_scored_as_min_depth_and_reported(monkeypatch, clip_pred, bad):
    """One NaN / inf / non-positive predicted pixel once made abs_rel, rmse and silog NaN (or rmse_log inf) for the
    whole evaluation: it now counts as a prediction of min_depth, and the log says how many there were."""
    logged = []
    monkeypatch.setattr('mmbokeh.evaluation.depth_metric.print_log', lambda msg, **kw: logged.append(msg))
    m = evaluate(DepthMetric(min_depth=0.5, clip_pred=clip_pred), sample([[bad, 1.0]], [[1.0, 1.0]]),
                 sample([[2.0]], [[2.0]]))
    assert all(math.isfinite(v) for v in m.values())
    assert m['abs_rel'] == pytest.approx((0.5 / 2 + 0.0) / 2)  # image 1: (|1 - 0.5| / 1 + 0) / 2; image 2: 0
    assert m['rmse_log'] == pytest.approx((math.sqrt(math.log(2) ** 2 / 2) + 0.0) / 2)
    assert any('1 evaluated pixels in 1 images had a NaN' in msg for msg in logged)
