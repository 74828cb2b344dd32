"""LoadImage / LoadDepth: round trips for PNG (mm), EXR and .npy, and errors that name the file."""
import cv2
import numpy as np
import OpenEXR
import pytest

from mmbokeh.datasets.transforms import LoadDepth, LoadImage


def write_exr(path, channels):
    OpenEXR.File({'compression': OpenEXR.ZIP_COMPRESSION, 'type': OpenEXR.scanlineimage}, channels).write(str(path))


@pytest.fixture
def bgr_png(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = tmp_path / 'img.png'
    assert cv2.imwrite(str(path), img)
    return path, img


def test_load_image_round_trip(bgr_png):
    path, img = bgr_png
    out = LoadImage()(dict(img_path=str(path)))
    assert out['img'].dtype == np.uint8
    np.testing.assert_array_equal(out['img'], img)  # BGR as stored, lossless
    assert out['img_shape'] == (7, 9) and out['ori_shape'] == (7, 9)
    out = LoadImage(to_float32=True)(dict(img_path=str(path)))
    assert out['img'].dtype == np.float32
    np.testing.assert_array_equal(out['img'], img.astype(np.float32))


def test_load_image_missing_and_corrupt(tmp_path):
    missing = tmp_path / 'nope.jpg'
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        LoadImage()(dict(img_path=str(missing)))
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(b'\xff\xd8 this is not a jpeg at all')
    with pytest.raises(ValueError, match='corrupt.jpg'):
        LoadImage()(dict(img_path=str(corrupt)))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        LoadImage()(dict(img_path=str(empty)))


def test_load_depth_png_millimetres(tmp_path):
    mm = np.array([[0, 1, 999], [1234, 40000, 65535]], np.uint16)
    path = tmp_path / 'd.png'
    assert cv2.imwrite(str(path), mm)
    out = LoadDepth()(dict(depth_path=str(path)))
    assert out['gt_depth'].dtype == np.float32 and out['gt_depth'].shape == (2, 3)
    np.testing.assert_array_equal(out['gt_depth'], mm.astype(np.float32) / np.float32(1000))
    assert out['gt_depth'][0, 0] == 0 and out['gt_depth'][1, 2] == pytest.approx(65.535)
    assert out['depth_scale'] == 1000 and out['ori_shape'] == (2, 3)
    # the dataset's scale is used when the transform has none; an explicit one wins
    out = LoadDepth()(dict(depth_path=str(path), depth_scale=256.0))
    np.testing.assert_allclose(out['gt_depth'], mm / 256.0, rtol=1e-6)
    out = LoadDepth(depth_scale=100.0)(dict(depth_path=str(path), depth_scale=256.0))
    np.testing.assert_allclose(out['gt_depth'], mm / 100.0, rtol=1e-6)


def test_load_depth_png_rejects_8bit(tmp_path):
    path = tmp_path / 'vis.png'
    assert cv2.imwrite(str(path), np.full((4, 4), 7, np.uint8))
    with pytest.raises(ValueError, match=r'16-bit.*vis\.png'):
        LoadDepth()(dict(depth_path=str(path)))


def test_load_depth_exr(tmp_path):
    depth = np.array([[0.5, 1.25, np.inf], [np.nan, -1.0, 7.75]], np.float32)
    path = tmp_path / 'd.exr'
    write_exr(path, {'Y': depth})
    out = LoadDepth()(dict(depth_path=str(path)))
    expected = np.array([[0.5, 1.25, 0], [0, 0, 7.75]], np.float32)  # non-finite and negative -> invalid
    np.testing.assert_array_equal(out['gt_depth'], expected)
    assert out['gt_depth'].dtype == np.float32 and out['depth_scale'] == 1.0

    # half-float RGB file (FoD500 style): R by default, another channel on request
    r = np.full((3, 4), 1.5, np.float16)
    g = np.full((3, 4), 2.5, np.float16)
    rgb_path = tmp_path / 'rgb.exr'
    write_exr(rgb_path, {'R': r, 'G': g, 'B': g})
    np.testing.assert_array_equal(LoadDepth()(dict(depth_path=str(rgb_path)))['gt_depth'], 1.5)
    np.testing.assert_array_equal(LoadDepth(exr_channel='G')(dict(depth_path=str(rgb_path)))['gt_depth'], 2.5)
    with pytest.raises(KeyError, match=r"'Z'.*rgb\.exr"):
        LoadDepth(exr_channel='Z')(dict(depth_path=str(rgb_path)))


def test_load_depth_npy(tmp_path):
    metres = np.arange(12, dtype=np.float32).reshape(1, 3, 4) / 4
    path = tmp_path / 'm.npy'
    np.save(path, metres)
    out = LoadDepth()(dict(depth_path=str(path)))
    np.testing.assert_array_equal(out['gt_depth'], metres[0])  # float: metres, singleton axis squeezed
    mm = (np.arange(12, dtype=np.uint16) * 500).reshape(3, 4)
    np.save(tmp_path / 'mm.npy', mm)
    out = LoadDepth()(dict(depth_path=str(tmp_path / 'mm.npy')))
    np.testing.assert_allclose(out['gt_depth'], mm / 1000.0)
    np.save(tmp_path / 'vol.npy', np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r'\(2, 3, 4\).*vol\.npy'):
        LoadDepth()(dict(depth_path=str(tmp_path / 'vol.npy')))


@pytest.mark.parametrize('suffix', ['.png', '.exr', '.npy'])
def test_load_depth_missing_and_corrupt(tmp_path, suffix):
    missing = tmp_path / f'missing{suffix}'
    with pytest.raises(FileNotFoundError, match=f'missing\\{suffix}'):
        LoadDepth()(dict(depth_path=str(missing)))
    corrupt = tmp_path / f'corrupt{suffix}'
    corrupt.write_bytes(b'\x89PNG garbage garbage garbage' * 3)
    with pytest.raises(ValueError, match=f'corrupt\\{suffix}'):
        LoadDepth()(dict(depth_path=str(corrupt)))


def test_load_depth_unsupported_suffix(tmp_path):
    path = tmp_path / 'd.tiff'
    path.write_bytes(b'x')
    with pytest.raises(ValueError, match=r"'\.tiff'.*d\.tiff"):
        LoadDepth()(dict(depth_path=str(path)))


def test_image_depth_shape_mismatch_names_both(tmp_path, bgr_png):
    img_path, _ = bgr_png  # 7 x 9
    depth_path = tmp_path / 'small.png'
    assert cv2.imwrite(str(depth_path), np.ones((7, 8), np.uint16))
    results = LoadImage()(dict(img_path=str(img_path), depth_path=str(depth_path)))
    with pytest.raises(ValueError) as info:
        LoadDepth()(results)
    message = str(info.value)
    for part in ('(7, 9)', '(7, 8)', str(img_path), str(depth_path)):
        assert part in message


def test_missing_keys_and_bad_scale():
    with pytest.raises(KeyError, match='img_path'):
        LoadImage()(dict())
    with pytest.raises(KeyError, match='depth_path'):
        LoadDepth()(dict())
    with pytest.raises(ValueError, match='depth_scale'):
        LoadDepth(depth_scale=0)
