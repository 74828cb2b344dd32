"""FoD500Dataset: miniature DefocusNet (TIFF + half-float EXR) and DEReD (PNG + AIF + .npy) trees load through the
base configs with the values written; errors name the path and the layout; the evaluation protocols."""
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.fod500_tree import depth_of, frame, write_defocusnet, write_dered
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmbokeh.evaluation import DepthMetric
from mmbokeh.registry import DATASETS

ROOT = Path(__file__).resolve().parents[2]


def build(config: str, data_root: Path, phase: str = 'test', **overrides):
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets' / config))
    dataset_cfg = cfg[f'{phase}_dataloader'].dataset
    dataset_cfg.update(data_root=str(data_root), **overrides)
    init_default_scope('mmbokeh')
    return DATASETS.build(dataset_cfg)


def test_defocusnet_layout_reads_back_what_was_written(tmp_path):
    root = write_defocusnet(tmp_path / 'fs_6')
    test = build('fod500.py', root)
    assert len(test) == 1 and test.metainfo['layout'] == 'defocusnet'
    packed = test[0]
    inputs, sample = packed['inputs'], packed['data_samples']
    stack = inputs['stack'].permute(0, 2, 3, 1).numpy()
    for k in range(5):
        np.testing.assert_array_equal(stack[k], frame(400, k))
    np.testing.assert_allclose(inputs['stack_focus'].numpy(), [0.1, 0.15, 0.3, 0.7, 1.5], rtol=1e-6)
    np.testing.assert_array_equal(inputs['img'].permute(1, 2, 0).numpy(), frame(400, 2))  # middle frame
    assert sample.img_source == 'frame:2' and sample.scene == '000400' and sample.focus_units == 'm'
    np.testing.assert_array_equal(sample.gt_depth.data[0].numpy(), depth_of(400).astype(np.float32))
    np.testing.assert_allclose(inputs['camera'].numpy(), [2.9e-3, 1.0, 3.1e-3 / 256], rtol=1e-6)
    # train split: scenes below 400, and another reference frame
    train = build('fod500.py', root, phase='train', ref_frame=0, pipeline=test.pipeline.transforms)
    assert len(train) == 2
    assert train[1]['data_samples'].img_source == 'frame:0'
    np.testing.assert_array_equal(train[1]['inputs']['img'].permute(1, 2, 0).numpy(), frame(1, 0))


def test_defocusnet_train_pipeline_keeps_frames_aligned(tmp_path):
    root = write_defocusnet(tmp_path / 'fs_6', scenes=(3, ))
    train = build('fod500.py', root, phase='train')
    train.pipeline.transforms[2].crop_size = (8, 10)  # the config's 224 crop of 256x256 frames, scaled down
    np.random.seed(1)
    out = train[0]
    stack, img, depth = out['inputs']['stack'], out['inputs']['img'], out['data_samples'].gt_depth.data[0]
    assert stack.shape == (5, 3, 8, 10) and img.shape == (3, 8, 10)
    # every frame and the depth come from the same window: frame k codes x = (c0 - k) / 7 and y = (c1 - 3) / 5
    x = (stack[:, 0].numpy().astype(int) - np.arange(5)[:, None, None]) // 7
    y = (stack[:, 1].numpy().astype(int) - 3) // 5
    assert np.all(x == x[0]) and np.all(y == y[0])
    np.testing.assert_array_equal(depth.numpy(), depth_of(3).astype(np.float32)[y[0], x[0]])
    np.testing.assert_array_equal(img[0].numpy(), stack[2, 0].numpy())


def test_dered_layout_reads_back_what_was_written(tmp_path):
    root = write_dered(tmp_path / 'dered')
    test = build('fod500_dered.py', root)
    assert len(test) == 1 and test.metainfo['layout'] == 'dered'
    packed = test[0]
    inputs, sample = packed['inputs'], packed['data_samples']
    np.testing.assert_array_equal(inputs['img'].permute(1, 2, 0).numpy(), 255 - frame(7, 0))  # all in focus
    assert sample.img_source == 'aif'
    for k in range(5):
        np.testing.assert_array_equal(inputs['stack'][k].permute(1, 2, 0).numpy(), frame(7, k))
    np.testing.assert_allclose(inputs['stack_focus'].numpy(), [0.3, 0.45, 0.75, 1.2, 1.8], rtol=1e-6)
    np.testing.assert_allclose(inputs['camera'].numpy(), [7.2e-3, 1.2, 5.6e-6], rtol=1e-6)
    expected = depth_of(7).astype(np.float32)
    expected[0, 0], expected[0, 1] = 3.0, 0.1
    np.testing.assert_allclose(sample.gt_depth.data[0].numpy(), expected, rtol=1e-6)
    assert len(build('fod500_dered.py', root, phase='train')) == 2


def test_missing_folder_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'(?s)folder not found: .*nowhere.*Expected layout.*All\.tif'):
        build('fod500.py', tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match=r'(?s)dered.*test.*Expected layout.*Aif\.png'):
        build('fod500_dered.py', tmp_path)


def test_wrong_layout_and_missing_files(tmp_path):
    # DEReD's files in a DefocusNet folder: no TIFF frames, no EXR depth
    flat = tmp_path / 'flat'
    write_dered(flat, splits=dict(test=(1, )))
    with pytest.raises(FileNotFoundError, match=r'(?s)no focal stacks in .*test.*holds 000001Aif.png.*Expected'):
        build('fod500.py', flat / 'test')
    root = write_defocusnet(tmp_path / 'fs_6', scenes=(400, ))
    (root / '000400_03All.tif').unlink()
    with pytest.raises(FileNotFoundError, match=r'000400_03All\.tif'):
        build('fod500.py', root)
    (root / '000400Dpt.exr').unlink()
    with pytest.raises(FileNotFoundError, match=r'000400Dpt\.exr'):
        build('fod500.py', root)
    dered = write_dered(tmp_path / 'dered', splits=dict(test=(2, )))
    (dered / 'test' / '000002Aif.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'000002Aif\.png'):
        build('fod500_dered.py', dered)


def test_empty_split_says_so(tmp_path):
    root = write_defocusnet(tmp_path / 'fs_6', scenes=(0, ))
    with pytest.raises(ValueError, match=r"split 'test' is empty.*scenes >= 400"):
        build('fod500.py', root)


def _sample(pred, gt):
    return dict(pred_depth=dict(data=torch.tensor(pred, dtype=torch.float32)[None]),
                gt_depth=dict(data=torch.tensor(gt, dtype=torch.float32)[None]), img_path='x/a.tif')


def test_protocols_and_their_log_line(monkeypatch):
    logged = []
    monkeypatch.setattr('mmbokeh.evaluation.depth_metric.print_log', lambda msg, **kwargs: logged.append(msg))
    gt = [[0.2, 0.4, 1.0, 2.0, 0.0]]
    pred = [[0.2, 0.5, 1.0, 1.0, 1.0]]
    results = {}
    for protocol in ('all', 'dered_lt0.5m', 'dfv_1.5m'):
        metric = DepthMetric(protocol=protocol, min_depth=1e-3, max_depth=3.0)
        metric.dataset_meta = dict(dataset_name='FoD500', layout='dered')
        metric.process({}, [_sample(pred, gt)])
        results[protocol] = metric.evaluate(1)
        log = logged[-1]
        assert f"protocol='{protocol}'" in log and "dataset='FoD500'" in log and "layout='dered'" in log
    # all: 4 valid pixels (gt = 0 ignored); one of them is off by 0.1/0.4 and one by 1/2
    assert results['all']['all/abs_rel'] == pytest.approx((0.25 + 0.5) / 4)
    assert results['dered_lt0.5m']['dered_lt0.5m/abs_rel'] == pytest.approx(0.25 / 2)
    # DFV: gt 2.0 is clipped to 1.5 -> error 0.5 / 1.5
    assert results['dfv_1.5m']['dfv_1.5m/abs_rel'] == pytest.approx((0.25 + 0.5 / 1.5) / 4)
    with pytest.raises(ValueError, match='protocol'):
        DepthMetric(protocol='lt0.5')


def test_metric_skips_samples_without_ground_truth():
    metric = DepthMetric(allow_missing_gt=True)
    metric.process({}, [dict(pred_depth=dict(data=torch.ones(1, 2, 2)), img_path='a/b.jpg')])
    assert metric.evaluate(1) == {} and metric.num_without_gt == 1
