import os
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from mmbokeh.registry import VISUALIZERS
from mmbokeh.structures import DepthDataSample
from mmbokeh.visualization import DepthLocalVisualizer, colorize_depth

H, W = 20, 30


def unique(prefix):
    return f'{prefix}_{uuid.uuid4().hex[:8]}'  # mmengine keeps visualizers by name


def make_stack():
    """Input frames [S, 3, H, W] (uint8 BGR, as packed by PackDepthInputs) and their K."""
    stack = torch.zeros(4, 3, H, W, dtype=torch.uint8)
    stack[:, 0] = 255  # pure blue in BGR
    return dict(stack=stack, stack_values=torch.tensor([0.0, 10.0, 20.0, 30.0]))


def make_sample():
    gt = torch.linspace(1.0, 4.0, H * W).view(1, H, W).clone()
    gt[0, 0, :5] = 0.0  # invalid
    pred = torch.full((1, H // 2, W // 2), 2.0)
    pred[0, :, :3] = 9.0  # beyond gt's range: clipped to its top colour
    ds = DepthDataSample(metainfo=dict(img_path='synthetic://demo/0'))
    ds.gt_depth = PixelData(data=gt)
    ds.pred_depth = PixelData(data=pred)
    return ds


def image():
    return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_panels_image_gt_pred_stack():
    vis = DepthLocalVisualizer(name=unique('vis'))
    img, ds = image(), make_sample()
    drawn = vis.draw_depth_sample(img, ds, **make_stack())
    assert drawn.dtype == np.uint8 and drawn.shape[0] == H
    np.testing.assert_array_equal(drawn[:, :W], img)
    gt = ds.gt_depth.data
    vmin, vmax = float(gt[gt > 0].min()), float(gt.max())
    gt_panel = colorize_depth(gt, vmin=vmin, vmax=vmax)
    np.testing.assert_array_equal(drawn[:, W:2 * W], gt_panel)
    assert (drawn[0, W:W + 5] == 0).all()
    # the prediction shares gt's colour range and is upsampled 2x with nearest neighbours
    pred_small = colorize_depth(ds.pred_depth.data, vmin=vmin, vmax=vmax)
    np.testing.assert_array_equal(drawn[:, 2 * W:3 * W], pred_small.repeat(2, axis=0).repeat(2, axis=1))
    # the stack grid (2 x 2 frames of 20 x 30, resized to height 20): blue in BGR becomes RGB (0, 0, 255)
    stack_panel = drawn[:, 3 * W:]
    assert stack_panel.shape[1] == W
    bottom_right = stack_panel[-3:, -3:].reshape(-1, 3)
    assert (bottom_right == [0, 0, 255]).all()


def test_draw_flags_and_missing_fields():
    vis = DepthLocalVisualizer(name=unique('vis'), cmap='spectral_r')
    img, ds = image(), make_sample()
    assert vis.draw_depth_sample(img, ds).shape == (H, 3 * W, 3)
    assert vis.draw_depth_sample(img, ds, draw_gt=False).shape == (H, 2 * W, 3)
    only_pred = vis.draw_depth_sample(img, ds, draw_gt=False)
    # without gt the colour range is the prediction's own (2 .. 9 m)
    pred_small = colorize_depth(ds.pred_depth.data, cmap='spectral_r')
    np.testing.assert_array_equal(only_pred[:, W:], pred_small.repeat(2, axis=0).repeat(2, axis=1))
    assert vis.draw_depth_sample(img, None).shape == (H, W, 3)
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        vis.draw_depth_sample(np.zeros((H, W, 4), np.uint8), ds)
    with pytest.raises(ValueError, match='cmap'):
        DepthLocalVisualizer(name=unique('vis'), cmap='jet')


def test_add_datasample_out_file_is_atomic(tmp_path):
    vis = DepthLocalVisualizer(name=unique('vis'))
    img, ds = image(), make_sample()
    out = tmp_path / 'out' / 'a.png'
    vis.add_datasample('a', img, ds, out_file=str(out), **make_stack())
    assert os.listdir(tmp_path / 'out') == ['a.png']
    written = cv2.imread(str(out))[..., ::-1]  # back to RGB
    np.testing.assert_array_equal(written, vis.draw_depth_sample(img, ds, **make_stack()))
    np.testing.assert_array_equal(vis.get_image(), written)


def test_default_local_vis_backend_through_registry(tmp_path):
    with DefaultScope.overwrite_default_scope('mmbokeh'):
        vis = VISUALIZERS.build(dict(type='DepthLocalVisualizer', name=unique('vis'),
                                     vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path)))
    assert isinstance(vis, DepthLocalVisualizer)
    vis.add_datasample('test_0.png', image(), make_sample(), step=3, **make_stack())
    path = tmp_path / 'vis_data' / 'vis_image' / 'test_0.png_3.png'
    assert path.is_file()
    assert cv2.imread(str(path)).shape == (H, 4 * W, 3)
