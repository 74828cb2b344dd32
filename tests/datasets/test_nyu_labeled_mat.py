"""tools/dataset_converters/nyu_labeled_mat.py on a tiny fake labeled .mat (HDF5) and splits.mat (MATLAB v5)."""
import importlib.util
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from scipy.io import savemat

from mmbokeh.datasets import NYUv2Dataset

SCRIPT = Path(__file__).parents[2] / 'tools' / 'dataset_converters' / 'nyu_labeled_mat.py'
N, H, W = 5, 6, 8


@pytest.fixture(scope='module')
def converter():
    spec = importlib.util.spec_from_file_location('nyu_labeled_mat_tool', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rgb_of(i):
    """[H, W, 3] RGB of image i: strong per-channel levels with gentle gradients (JPEG-friendly)."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([200 - 4 * x, 90 + 6 * y, 20 + 3 * x + 5 * i], -1).astype(np.uint8)


def depth_of(i):
    y, x = np.mgrid[0:H, 0:W]
    return (0.5 + 0.1 * y + 0.013 * x + i).astype(np.float32)


@pytest.fixture
def fake_mat(tmp_path):
    """Stored as MATLAB v7.3 stores it, transposed: images [N, 3, W, H], depths [N, W, H]."""
    mat = tmp_path / 'labeled.mat'
    with h5py.File(mat, 'w') as f:
        f['images'] = np.stack([rgb_of(i).transpose(2, 1, 0) for i in range(N)])
        f['depths'] = np.stack([depth_of(i).T for i in range(N)])
    splits = tmp_path / 'splits.mat'
    savemat(splits, dict(trainNdxs=np.array([[1.0], [3.0], [5.0]]), testNdxs=np.array([[4.0], [2.0]])))
    return mat, splits


def test_round_trip(converter, fake_mat, tmp_path):
    mat, splits = fake_mat
    out = tmp_path / 'nyu'
    counts = converter.main([str(mat), str(splits), str(out), '--jpg-quality', '100'])
    assert counts == dict(written=5, skipped=0)
    assert sorted(p.name for p in (out / 'images' / 'train').iterdir()) == ['0001.jpg', '0003.jpg', '0005.jpg']
    assert sorted(p.name for p in (out / 'annotations' / 'test').iterdir()) == ['0002.png', '0004.png']
    assert not list(out.rglob('*.tmp*'))
    for split, ndx in (('train', 3), ('test', 4)):
        depth_mm = cv2.imread(str(out / 'annotations' / split / f'{ndx:04d}.png'), cv2.IMREAD_UNCHANGED)
        assert depth_mm.dtype == np.uint16 and depth_mm.shape == (H, W)
        np.testing.assert_array_equal(depth_mm, np.round(depth_of(ndx - 1).astype(np.float64) * 1000))
        bgr = cv2.imread(str(out / 'images' / split / f'{ndx:04d}.jpg'))
        assert bgr.shape == (H, W, 3)
        assert np.abs(bgr[..., ::-1].astype(int) - rgb_of(ndx - 1)).mean() < 4  # RGB order, lossy JPEG

    # the dataset reads the result: metres within half a millimetre
    ds = NYUv2Dataset(data_root=str(out), split='train',
                      pipeline=[dict(type='mmbokeh.LoadImage'), dict(type='mmbokeh.LoadDepth')])
    assert len(ds) == 3
    np.testing.assert_allclose(ds[2]['gt_depth'], depth_of(4), atol=5e-4)


def test_resume_skips_finished_pairs(converter, fake_mat, tmp_path):
    mat, splits = fake_mat
    out = tmp_path / 'nyu'
    converter.convert(str(mat), str(splits), str(out), progress=False)
    kept = out / 'images' / 'train' / '0001.jpg'
    stamp = kept.stat().st_mtime_ns
    (out / 'annotations' / 'test' / '0002.png').unlink()  # as if interrupted before this pair was complete
    counts = converter.convert(str(mat), str(splits), str(out), progress=False)
    assert counts == dict(written=1, skipped=4)
    assert kept.stat().st_mtime_ns == stamp
    assert (out / 'annotations' / 'test' / '0002.png').is_file()


def test_bad_inputs(converter, fake_mat, tmp_path):
    mat, splits = fake_mat
    bad = tmp_path / 'bad_splits.mat'
    savemat(bad, dict(trainNdxs=np.array([[0.0], [1.0]]), testNdxs=np.array([[2.0]])))
    with pytest.raises(ValueError, match=r'bad_splits\.mat.*trainNdxs.*\[1, 5\]'):
        converter.convert(str(mat), str(bad), str(tmp_path / 'o'), progress=False)
    savemat(bad, dict(trainNdxs=np.array([[1.0]])))
    with pytest.raises(KeyError, match='testNdxs'):
        converter.convert(str(mat), str(bad), str(tmp_path / 'o'), progress=False)
    savemat(bad, dict(trainNdxs=np.array([[1.0], [2.0]]), testNdxs=np.array([[2.0]])))
    with pytest.raises(ValueError, match='share'):
        converter.convert(str(mat), str(bad), str(tmp_path / 'o'), progress=False)
    no_depths = tmp_path / 'no_depths.mat'
    with h5py.File(no_depths, 'w') as f:
        f['images'] = np.zeros((2, 3, W, H), np.uint8)
    with pytest.raises(KeyError, match=r"no_depths\.mat.*'depths'"):
        converter.convert(str(no_depths), str(splits), str(tmp_path / 'o'), progress=False)
    with pytest.raises(FileNotFoundError, match='missing.mat'):
        converter.convert(str(tmp_path / 'missing.mat'), str(splits), str(tmp_path / 'o'), progress=False)
