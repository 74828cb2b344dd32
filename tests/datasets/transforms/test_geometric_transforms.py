"""RandomCrop / RandomFlip / ResizeToMultiple keep img, gt_depth, bokeh_stack and the camera aligned."""
import numpy as np
import pytest

from mmbokeh.datasets.transforms import RandomCrop, RandomFlip, ResizeToMultiple, dav2_output_size


def coded_sample(h=40, w=60, frames=3):
    """Pixel (x, y) carries x, y in img channels 0/1, depth 1 + x + 1000 y, and x, y, s in stack frame s."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x, y, np.full_like(x, 77)], -1).astype(np.uint8)
    stack = np.stack([np.stack([x, y, np.full_like(x, s)], -1) for s in range(frames)]).astype(np.uint8)
    k = np.array([[100.0, 0, 29.5], [0, 110.0, 19.5], [0, 0, 1]], np.float32)
    return dict(img=img, gt_depth=(1 + x + 1000 * y).astype(np.float32), bokeh_stack=stack,
                bokeh_k=np.array([1.0, 6.0, 11.0], np.float32), img_shape=(h, w), ori_shape=(h, w),
                cam_intrinsics=k, focal_length_px=100.0)


def check_aligned(out, frames=3):
    x, y = out['img'][..., 0].astype(np.int64), out['img'][..., 1].astype(np.int64)
    np.testing.assert_array_equal(out['gt_depth'], 1 + x + 1000 * y)
    for s in range(frames):
        np.testing.assert_array_equal(out['bokeh_stack'][s, ..., 0], x)
        np.testing.assert_array_equal(out['bokeh_stack'][s, ..., 1], y)
        np.testing.assert_array_equal(out['bokeh_stack'][s, ..., 2], s)
    assert out['img_shape'] == out['img'].shape[:2]
    return x, y


def rays(k, u, v):
    """Camera-frame ray directions (3, N) of pixels u, v under intrinsics k (z component 1)."""
    return np.linalg.inv(np.asarray(k, np.float64)) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])


def test_random_crop_aligns_everything():
    np.random.seed(0)
    offsets = set()
    for _ in range(10):
        sample = coded_sample()
        k_old = sample['cam_intrinsics']
        out = RandomCrop((16, 24))(sample)
        assert out['img'].shape == (16, 24, 3) and out['ori_shape'] == (40, 60)
        x, y = check_aligned(out)
        # a contiguous window
        np.testing.assert_array_equal(x, x[0, 0] + np.arange(24)[None].repeat(16, 0))
        np.testing.assert_array_equal(y, y[0, 0] + np.arange(16)[:, None].repeat(24, 1))
        offsets.add((x[0, 0], y[0, 0]))
        # the new camera sees, through each pixel, the ray of the original pixel it came from
        v_new, u_new = np.mgrid[0:16, 0:24]
        np.testing.assert_allclose(rays(out['cam_intrinsics'], u_new, v_new), rays(k_old, x, y), atol=1e-6)
        assert out['focal_length_px'] == 100.0
    assert len(offsets) > 1
    assert all(0 <= x0 <= 36 and 0 <= y0 <= 24 for x0, y0 in offsets)


def test_random_crop_full_size_and_errors():
    out = RandomCrop(40)(dict(img=np.zeros((40, 40, 3), np.uint8)))
    assert out['img'].shape == (40, 40, 3)
    with pytest.raises(ValueError, match=r'\(16, 99\).*\(40, 60\)'):
        RandomCrop((16, 99))(coded_sample())
    sample = coded_sample()
    sample['gt_depth'] = sample['gt_depth'][:, :50]
    with pytest.raises(ValueError, match='gt_depth'):
        RandomCrop(8)(sample)
    with pytest.raises(ValueError, match='crop_size'):
        RandomCrop((0, 4))


def test_random_flip_mirrors_everything():
    sample = coded_sample()
    k_old = sample['cam_intrinsics']
    out = RandomFlip(prob=1.0)(sample)
    assert out['flip'] is True
    x, y = check_aligned(out)
    np.testing.assert_array_equal(x, 59 - np.arange(60)[None].repeat(40, 0))
    # the mirrored scene seen by a normal camera (fx > 0): rays mirror in x
    k_new = out['cam_intrinsics']
    assert k_new[0, 0] == 100.0 and k_new[0, 2] == pytest.approx(59 - 29.5)
    v_new, u_new = np.mgrid[0:40, 0:60]
    np.testing.assert_allclose(rays(k_new, u_new, v_new), np.diag([-1, 1, 1]) @ rays(k_old, x, y), atol=1e-6)
    # flipping back restores the sample and the flag
    back = RandomFlip(prob=1.0)(out)
    assert back['flip'] is False
    ref = coded_sample()
    for key in ('img', 'gt_depth', 'bokeh_stack', 'cam_intrinsics'):
        np.testing.assert_array_equal(back[key], ref[key])


def test_random_flip_probability():
    out = RandomFlip(prob=0.0)(coded_sample())
    assert out['flip'] is False
    np.testing.assert_array_equal(out['img'], coded_sample()['img'])
    np.random.seed(1)
    flips = [RandomFlip(prob=0.5)(dict(img=np.zeros((2, 2, 3), np.uint8)))['flip'] for _ in range(400)]
    assert 0.4 < np.mean(flips) < 0.6
    with pytest.raises(ValueError, match='prob'):
        RandomFlip(prob=1.5)


# Hand-worked Depth Anything V2 sizes (target 518, multiple of 14, numpy rounding = ties to even):
#   480x640, lower: s = 518/480; h = 518 = 37*14; w = 640 s = 690.67 -> 49.33 -> 49*14 = 686
#   375x1242: s = 518/375; w = 1715.62 -> 122.54 -> 123*14 = 1722
#   763x518: s = 1; h = 763 -> 54.5 -> 54 (tie to even) -> 756 (>= 518, kept)
#   100x300: s = 5.18; w = 1554 = 111*14
#   480x640, target 510: h = 510 -> 36.43 -> 36*14 = 504 < 510 -> ceil -> 518; w = 680 -> 48.57 -> 49 -> 686
#   480x640, upper_bound 518: s = 518/640; h = 388.5 -> 27.75 -> 28*14 = 392; w = 518
#   480x640, upper_bound 512: s = 0.8; h = 384 -> 27.43 -> 378; w = 512 -> 36.57 -> 37*14 = 518 > 512 -> floor 504
#   480x640, scale (w, h) = (700, 518): s = max(518/480, 700/640) = 1.09375; h = 525 -> 37.5 -> 38 -> 532; w = 700
@pytest.mark.parametrize('hw, kwargs, expected', [
    ((480, 640), dict(), (518, 686)),
    ((224, 224), dict(), (518, 518)),
    ((375, 1242), dict(), (518, 1722)),
    ((763, 518), dict(), (756, 518)),
    ((1000, 1000), dict(), (518, 518)),
    ((100, 300), dict(), (518, 1554)),
    ((480, 640), dict(scale=510), (518, 686)),
    ((480, 640), dict(resize_method='upper_bound'), (392, 518)),
    ((480, 640), dict(scale=512, resize_method='upper_bound'), (378, 504)),
    ((480, 640), dict(keep_ratio=False), (518, 518)),
    ((480, 640), dict(scale=(700, 518)), (532, 700)),
])
def test_resize_to_multiple_sizes(hw, kwargs, expected):
    out = ResizeToMultiple(**kwargs)(dict(img=np.zeros(hw + (3, ), np.uint8), img_shape=hw, ori_shape=hw))
    assert out['img'].shape[:2] == expected and out['img_shape'] == expected
    assert out['ori_shape'] == hw
    assert out['scale_factor'] == (expected[1] / hw[1], expected[0] / hw[0])


def test_dav2_output_size_function():
    assert dav2_output_size(480, 640, (518, 518)) == (518, 686)
    with pytest.raises(ValueError, match='resize_method'):
        dav2_output_size(480, 640, (518, 518), resize_method='nope')
    with pytest.raises(ValueError, match='resize_method'):
        ResizeToMultiple(resize_method='nope')


def block_sample(h=48, w=64, block=8):
    """Blocks of ``block`` px with distinct ids in img (channels 0, 1), depth and both stack frames."""
    y, x = np.mgrid[0:h, 0:w]
    by, bx = y // block, x // block
    img = np.stack([bx * 20, by * 20, np.full_like(x, 100)], -1).astype(np.uint8)
    return dict(img=img, gt_depth=(1 + bx + 10 * by).astype(np.float32), bokeh_stack=np.stack([img, img]))


@pytest.mark.parametrize('scale', [70, 30])  # up- and down-scaling
def test_resize_keeps_blocks_aligned(scale):
    out = ResizeToMultiple(scale=scale)(block_sample())
    new_h, new_w = out['img'].shape[:2]
    sx, sy = out['scale_factor']
    assert new_w % 14 == 0 and new_h % 14 == 0
    np.testing.assert_array_equal(out['bokeh_stack'][0], out['img'])  # frames resized exactly like the image
    assert out['gt_depth'].shape == (new_h, new_w)
    # away from block edges the bicubic image and the nearest depth agree on the block
    src_x = (np.arange(new_w) + 0.5) / sx - 0.5
    src_y = (np.arange(new_h) + 0.5) / sy - 0.5
    inner_x = np.abs(((src_x + 0.5) % 8) - 4) < 4 - 2.5 / min(sx, 1)
    inner_y = np.abs(((src_y + 0.5) % 8) - 4) < 4 - 2.5 / min(sy, 1)
    mask = inner_y[:, None] & inner_x[None]
    assert mask.sum() > 20
    bx = np.round(out['img'][..., 0] / 20.0)
    by = np.round(out['img'][..., 1] / 20.0)
    np.testing.assert_array_equal(out['gt_depth'][mask], (1 + bx + 10 * by)[mask])


def nearest_sources(positions, size):
    """Source pixels nearest-neighbour may pick at continuous ``positions``: (lo, hi) differ only on exact ties."""
    lo = np.clip(np.floor(positions - 1e-6), 0, size - 1).astype(int)
    hi = np.clip(np.floor(positions + 1e-6), 0, size - 1).astype(int)
    return lo, hi


def assert_picks(resized, positions_y, positions_x):
    """Each value of a resized 48x64 ``row * 64 + col`` map comes from a nearest source pixel."""
    rows, cols = resized // 64, resized % 64
    lo_r, hi_r = nearest_sources(positions_y, 48)
    lo_c, hi_c = nearest_sources(positions_x, 64)
    assert np.all((rows == lo_r[:, None]) | (rows == hi_r[:, None]))
    assert np.all((cols == lo_c[None]) | (cols == hi_c[None]))


def test_resize_depth_nearest_definitions():
    depth = np.arange(48 * 64, dtype=np.float32).reshape(48, 64)
    sample = dict(img=np.zeros((48, 64, 3), np.uint8), gt_depth=depth)
    out = ResizeToMultiple(scale=70)(dict(sample))
    new_h, new_w = out['gt_depth'].shape
    sx, sy = out['scale_factor']
    assert set(np.unique(out['gt_depth'])) <= set(depth.ravel())  # never mixes depths
    # centre-aligned nearest: the source pixel whose centre is nearest, floor((u + 0.5) / s)
    assert_picks(out['gt_depth'], (np.arange(new_h) + 0.5) / sy, (np.arange(new_w) + 0.5) / sx)
    # DAv2's cv2.INTER_NEAREST: floor(u / s), up to half a source pixel towards the top-left
    out = ResizeToMultiple(scale=70, exact_nearest=False)(dict(sample))
    assert_picks(out['gt_depth'], np.arange(new_h) / sy, np.arange(new_w) / sx)


def test_resize_depth_false_keeps_ground_truth():
    sample = coded_sample(48, 64)
    depth = sample['gt_depth'].copy()
    out = ResizeToMultiple(scale=70, resize_depth=False)(sample)
    np.testing.assert_array_equal(out['gt_depth'], depth)
    assert out['ori_shape'] == (48, 64) and out['img_shape'] == out['img'].shape[:2] == (70, 98)


def test_resize_camera_and_bokeh_k():
    sample = coded_sample(48, 64)
    k = sample['cam_intrinsics'].astype(np.float64)
    out = ResizeToMultiple(scale=70)(sample)
    sx, sy = out['scale_factor']
    # pixel centres map as u' + 0.5 = (u + 0.5) s
    expected = np.array([[k[0, 0] * sx, 0, (k[0, 2] + 0.5) * sx - 0.5], [0, k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5],
                         [0, 0, 1]])
    np.testing.assert_allclose(out['cam_intrinsics'], expected, rtol=1e-6)
    assert out['focal_length_px'] == pytest.approx(100.0 * sx)
    np.testing.assert_array_equal(out['bokeh_k'], [1.0, 6.0, 11.0])  # untouched by default (official behaviour)
    out = ResizeToMultiple(scale=70, rescale_bokeh_k=True)(coded_sample(48, 64))
    np.testing.assert_allclose(out['bokeh_k'], np.array([1.0, 6.0, 11.0]) * np.sqrt(sx * sy), rtol=1e-6)


@pytest.mark.parametrize('img', [np.zeros((4, 6, 3), np.int64), np.zeros((4, 6, 3), bool),
                                 np.zeros((4, 6, 3), np.float16), np.zeros((0, 0, 3), np.uint8)],
                         ids=['int64', 'bool', 'float16', 'empty'])
def test_resize_names_an_image_it_cannot_resize(img):
    """These once failed inside OpenCV (an assertion) or with a ZeroDivisionError."""
    with pytest.raises(ValueError, match=r'ResizeToMultiple: img must be a non-empty image of dtype .* \(a\.png\)'):
        ResizeToMultiple(scale=28)(dict(img=img, img_path='a.png'))


def test_resize_interpolation_is_checked_when_built():
    with pytest.raises(ValueError, match=r"interpolation must be one of \['area', 'bicubic'.*got 'bicubc'"):
        ResizeToMultiple(interpolation='bicubc')
