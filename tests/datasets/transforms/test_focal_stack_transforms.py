"""RenderFocalStack blurs as mmbokeh.optics predicts; geometric transforms keep focal stacks aligned; the synthetic
and NYU focal-stack configs give focal-stack samples."""
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmbokeh.datasets.transforms import (
    RandomCrop,
    RandomFlip,
    RenderFocalStack,
    ResizeToMultiple,
    camera_dict,
    focal_stack_coc,
)
from mmbokeh.optics import NYUV2_FOCAL_STACK, coc_radius_px
from mmbokeh.registry import DATASETS

ROOT = Path(__file__).resolve().parents[3]


def test_coc_map_is_the_closed_form():
    depth = np.array([[0.5, 1.0], [2.0, 9.0]], np.float32)
    coc = focal_stack_coc(depth, NYUV2_FOCAL_STACK.focus_distances, camera_dict('nyuv2'))
    assert coc.shape == (5, 2, 2)
    for i, s in enumerate(NYUV2_FOCAL_STACK.focus_distances):
        np.testing.assert_allclose(coc[i], np.abs(depth - s) / depth * 0.05**2 / (8 * (s - 0.05)) / (2 * 1.2e-5),
                                   rtol=1e-5)
    assert coc[0, 0, 1] == 0  # on the focus plane


@pytest.mark.parametrize('depth', [1.2, 0.8])
def test_blur_of_a_plane_is_the_predicted_gaussian(depth):
    """An impulse on a constant-depth plane spreads as exp(-2 r^2 / c^2) (std c / 2) with c from optics.py."""
    img = np.zeros((21, 21, 3), np.float32)
    img[10, 10] = 1000.0
    results = dict(img=img, gt_depth=np.full((21, 21), depth, np.float32))
    out = RenderFocalStack(camera='nyuv2', focus_dists=[1.0, depth], window=7, rescale_pixel_size=False,
                           impl='reference')(results)  # the pixel pitch of 320 px wide images
    c = float(coc_radius_px(depth, 1.0, 0.05, 8.0, 1.2e-5))
    assert 1.5 < c < 4  # inside the 7x7 window
    blurred = out['focal_stack'][0, ..., 0]
    for dy, dx in [(0, 1), (1, 1), (0, 2), (2, 1), (3, 0)]:
        ratio = blurred[10 + dy, 10 + dx] / blurred[10, 10]
        assert ratio == pytest.approx(np.exp(-2 * (dx * dx + dy * dy) / c**2), rel=1e-4)
    assert blurred[10, 14] == 0  # outside the window nothing arrives
    np.testing.assert_array_equal(out['focal_stack'][1], img)  # in focus (radius 0 <= 1 px): not blurred
    np.testing.assert_allclose(out['focus_dists'], [1.0, depth])
    assert out['focal_stack_source'] == 'render:gt_depth'


def test_window_option_and_pixel_pitch_rescaled():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    depth = np.full((24, 32), 0.5, np.float32)  # radius about 2.4 px at focus 6 m at 32 px width (24 px at 320)
    small = RenderFocalStack(window=7, impl='reference')(dict(img=img, gt_depth=depth))
    wide = RenderFocalStack(window=31, impl='reference')(dict(img=img, gt_depth=depth))
    assert small['focal_stack'].dtype == np.uint8 and small['focal_stack'].shape == (5, 24, 32, 3)
    assert wide['focal_stack'][-1].std() < small['focal_stack'][-1].std()  # the 7x7 window truncates the blur
    # the preset's 12 um holds at 320 px; at 32 px wide the pixels are 10x larger
    assert small['camera']['pixel_size'] == pytest.approx(1.2e-4)
    with pytest.raises(ValueError, match='window'):
        RenderFocalStack(window=4)


def coded(h=12, w=16, frames=3):
    y, x = np.mgrid[0:h, 0:w]
    stack = np.stack([np.stack([x, y, np.full_like(x, s)], -1) for s in range(frames)]).astype(np.uint8)
    return dict(img=np.stack([x, y, x], -1).astype(np.uint8), gt_depth=(1 + x + 100 * y).astype(np.float32),
                focal_stack=stack, focus_dists=np.array([0.3, 0.7, 1.5], np.float32),
                camera=dict(focal_length=2.9e-3, f_number=1.0, pixel_size=1e-5))


@pytest.mark.parametrize('transform', [RandomCrop((5, 7)), RandomFlip(prob=1.0)])
def test_geometric_transforms_keep_focal_stacks_aligned(transform):
    np.random.seed(0)
    out = transform(coded())
    x, y = out['img'][..., 0], out['img'][..., 1]
    for s in range(3):
        np.testing.assert_array_equal(out['focal_stack'][s, ..., 0], x)
        np.testing.assert_array_equal(out['focal_stack'][s, ..., 1], y)
        np.testing.assert_array_equal(out['focal_stack'][s, ..., 2], s)
    np.testing.assert_array_equal(out['gt_depth'], 1 + x.astype(np.float32) + 100 * y.astype(np.float32))


def test_resize_resizes_focal_stacks_and_rescales_the_pixel_pitch():
    sample = coded()
    camera = sample['camera']
    out = ResizeToMultiple(scale=(32, 24), keep_ratio=False, resize_method='minimal', size_divisor=1,
                           interpolation='nearest')(sample)
    assert out['focal_stack'].shape == (3, 24, 32, 3)
    np.testing.assert_array_equal(out['focal_stack'][1, ..., :2], out['img'][..., :2])
    assert out['camera']['pixel_size'] == pytest.approx(0.5e-5) and camera['pixel_size'] == 1e-5
    bad = coded()
    bad['focal_stack'] = bad['focal_stack'][:, :, :10]
    with pytest.raises(ValueError, match='focal_stack'):
        RandomCrop(4)(bad)


def test_synthetic_focal_stack_config_packs_focal_stacks():
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/synthetic_focal_stack.py'))
    cfg.val_dataloader.dataset.update(num_samples=1, img_size=(28, 42))
    init_default_scope('mmbokeh')
    packed = DATASETS.build(cfg.val_dataloader.dataset)[0]
    inputs = packed['inputs']
    assert inputs['stack'].shape == (5, 3, 28, 42)
    np.testing.assert_allclose(inputs['stack_focus'].numpy(), [0.1, 0.15, 0.3, 0.7, 1.5], rtol=1e-6)
    np.testing.assert_allclose(inputs['camera'].numpy(), [2.9e-3, 1.0, 1.2e-5 * 256 / 42], rtol=1e-5)
    assert packed['data_samples'].focal_stack_source == 'render:gt_depth'
    assert float(packed['data_samples'].gt_depth.data.max()) < 3.0


def test_nyu_focal_stack_config_renders_dereds_stacks():
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/nyu_focal_stack.py'))
    init_default_scope('mmbokeh')
    from mmengine.dataset import Compose
    pipeline = Compose(cfg.test_pipeline[2:])  # after loading: resize, render, pack
    rng = np.random.default_rng(0)
    results = dict(img=rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
                   gt_depth=rng.uniform(0.5, 9.0, (48, 64)).astype(np.float32), img_path='a.jpg')
    packed = pipeline(results)
    assert packed['inputs']['stack'].shape == (5, 3, 240, 320)
    np.testing.assert_allclose(packed['inputs']['stack_focus'].numpy(), [1, 1.5, 2.5, 4, 6])
    np.testing.assert_allclose(packed['inputs']['camera'].numpy(), [0.05, 8.0, 1.2e-5], rtol=1e-6)
