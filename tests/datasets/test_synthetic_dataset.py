"""Synthetic rooms: deterministic, metric depth consistent with the camera, and a dataset that feeds pipelines."""
import numpy as np
import pytest

from mmbokeh.datasets import SyntheticDefocusDataset, render_scene, save_scene_previews
from mmbokeh.registry import DATASETS

SIZE = (48, 64)


def test_render_is_deterministic():
    a = render_scene(3, SIZE)
    b = render_scene(3, SIZE)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    c = render_scene(4, SIZE)
    assert a[0].tobytes() != c[0].tobytes() and a[1].tobytes() != c[1].tobytes()
    img, depth, k = a
    assert img.shape == SIZE + (3, ) and img.dtype == np.uint8
    assert depth.shape == SIZE and depth.dtype == np.float32
    assert k.shape == (3, 3) and k[0, 2] == pytest.approx((SIZE[1] - 1) / 2) and k[0, 0] == k[1, 1]


@pytest.mark.parametrize('max_depth', [4.0, 8.0])
def test_depth_in_range(max_depth):
    for seed in range(12):
        img, depth, _ = render_scene(seed, SIZE, max_depth=max_depth)
        assert np.isfinite(depth).all()
        assert depth.min() > 0.3 and depth.max() < max_depth
        assert img.std() > 5  # not a blank frame
    with pytest.raises(ValueError, match='max_depth'):
        render_scene(0, SIZE, max_depth=2.0)


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_empty_room_floor_is_a_plane_receding_upwards(seed):
    """On a plane the inverse z-depth is affine in pixel coordinates; the floor recedes towards the horizon."""
    _, depth, k = render_scene(seed, (96, 128), num_objects=0)
    rows, cols = slice(80, 96), slice(54, 74)  # bottom centre: the floor (camera looks 5-22 deg down)
    v, u = np.mgrid[rows, cols]
    design = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], 1)
    inv = 1.0 / depth[rows, cols].ravel().astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, inv, rcond=None)
    assert np.abs(design @ coef - inv).max() < 1e-5 * inv.max()
    column = depth[rows, 64]
    assert np.all(np.diff(column) < 0)  # rows go down the image, depth decreases towards the camera
    # back-projected with K, those pixels lie on a plane about 1.1-1.7 m (camera height) from the camera
    points = depth[rows, cols].ravel() * (np.linalg.inv(k.astype(np.float64)) @ design.T)
    centred = points - points.mean(1, keepdims=True)
    normal = np.linalg.svd(centred)[0][:, 2]
    assert np.abs(normal @ centred).max() < 1e-4
    assert 1.1 - 1e-3 < abs(normal @ points.mean(1)) < 1.7 + 1e-3


@pytest.mark.parametrize('seed', [5, 6, 7])
def test_objects_only_occlude_the_same_room(seed):
    _, empty, _ = render_scene(seed, SIZE, num_objects=0)
    _, full, _ = render_scene(seed, SIZE, num_objects=5)
    assert np.all(full <= empty + 1e-5)
    assert (full < empty - 1e-3).sum() > 20


def test_dataset_items(tmp_path):
    ds = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, seed=7, split='val', max_depth=6.0)
    assert len(ds) == 3 and ds.metainfo['max_depth'] == 6.0
    item = ds[2]
    assert item['img_path'] == 'synthetic://val/000002' and item['sample_idx'] == 2
    img_rgb, depth, k = render_scene((7, 1, 2), SIZE, 6.0)
    np.testing.assert_array_equal(item['img'], img_rgb[..., ::-1])  # BGR like a loaded file
    np.testing.assert_array_equal(item['gt_depth'], depth)
    np.testing.assert_array_equal(item['cam_intrinsics'], k)
    assert item['focal_length_px'] == pytest.approx(k[0, 0])
    assert item['ori_shape'] == item['img_shape'] == SIZE
    # same index, same scene; splits use disjoint seed streams
    again = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, seed=7, split='val', max_depth=6.0)[2]
    assert again['img'].tobytes() == item['img'].tobytes()
    train = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, seed=7, split='train', max_depth=6.0)[2]
    assert train['img'].tobytes() != item['img'].tobytes()


def test_dataset_pipeline_lazy_init_and_subset():
    cfg = dict(type='mmbokeh.SyntheticDefocusDataset', num_samples=4, img_size=SIZE, lazy_init=True,
               indices=[1, 3], pipeline=[dict(type='mmbokeh.ResizeToMultiple', scale=56),
                                         dict(type='mmbokeh.RandomFlip', prob=1.0),
                                         dict(type='mmbokeh.PackDepthInputs')])
    ds = DATASETS.build(cfg)
    assert not ds._fully_initialized
    ds.full_init()
    assert len(ds) == 2
    out = ds[1]
    assert out['inputs']['img'].shape == (3, 56, 70)  # 48x64 -> 56 x 74.7 -> 70
    meta = out['data_samples'].metainfo
    assert meta['img_path'] == 'synthetic://train/000003' and meta['flip'] is True
    assert out['data_samples'].gt_depth.data.shape == (1, 56, 70)


def test_dataset_bad_arguments():
    with pytest.raises(ValueError, match='split'):
        SyntheticDefocusDataset(split='dev')
    with pytest.raises(ValueError, match='img_size'):
        SyntheticDefocusDataset(img_size=(0, 4))
    with pytest.raises(ValueError, match='SyntheticDefocusDataset kind_probs'):
        SyntheticDefocusDataset(kind_probs=(1.0, 0.0))


def test_textured_scenes_keep_the_geometry_and_lose_the_flat_surfaces():
    """kind_probs changes only the surface patterns: the depth of a seed is unchanged, and without flat surfaces
    every large region has image gradients (what depth from defocus needs)."""
    default = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, split='val')
    textured = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, split='val', kind_probs=(0, 0.5, 0.5, 0))
    flat = SyntheticDefocusDataset(num_samples=3, img_size=SIZE, split='val', kind_probs=(1, 0, 0, 0))
    for i in range(3):
        a, b, c = default.get_data_info(i), textured.get_data_info(i), flat.get_data_info(i)
        np.testing.assert_array_equal(a['gt_depth'], b['gt_depth'])
        assert not np.array_equal(a['img'], b['img'])
        grad_b = np.abs(np.diff(b['img'].astype(np.float32).mean(-1), axis=1)).mean()
        grad_c = np.abs(np.diff(c['img'].astype(np.float32).mean(-1), axis=1)).mean()
        assert grad_b > 3 * grad_c


def test_save_previews(tmp_path):
    import cv2
    paths = save_scene_previews(str(tmp_path), num=2, seed=1, img_size=SIZE)
    assert len(paths) == 2
    panel = cv2.imread(paths[0])
    assert panel.shape == (SIZE[0], 2 * SIZE[1], 3)
    np.testing.assert_array_equal(panel[:, :SIZE[1]], render_scene(1, SIZE)[0][..., ::-1])
