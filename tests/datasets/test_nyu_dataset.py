"""NYUv2Dataset on tiny fake trees (mmseg and BTS layouts) and its missing-data message."""
import cv2
import numpy as np
import pytest

from mmbokeh.datasets import NYUv2Dataset

PIPELINE = [dict(type='mmbokeh.LoadImage'), dict(type='mmbokeh.LoadDepth')]


def write_pair(img_path, depth_path, value_mm, h=6, w=8):
    img_path.parent.mkdir(parents=True, exist_ok=True)
    depth_path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(img_path), np.full((h, w, 3), value_mm % 256, np.uint8))
    assert cv2.imwrite(str(depth_path), np.full((h, w), value_mm, np.uint16))


@pytest.fixture
def mmseg_root(tmp_path):
    for split, stems in (('train', ['0001', '0003']), ('test', ['0002'])):
        for stem in stems:
            write_pair(tmp_path / 'images' / split / f'{stem}.jpg', tmp_path / 'annotations' / split / f'{stem}.png',
                       1000 * int(stem) + 250)
    return tmp_path


def test_mmseg_layout(mmseg_root):
    ds = NYUv2Dataset(data_root=str(mmseg_root), split='train', pipeline=PIPELINE)
    assert len(ds) == 2
    assert ds.metainfo['min_depth'] == 1e-3 and ds.metainfo['max_depth'] == 10.0
    item = ds[1]
    assert item['img_path'].endswith('images/train/0003.jpg')
    assert item['depth_path'].endswith('annotations/train/0003.png')
    np.testing.assert_allclose(item['gt_depth'], 3.25)  # 3250 mm
    assert item['img'].shape == (6, 8, 3) and item['ori_shape'] == (6, 8)
    assert item['focal_length_px'] == pytest.approx(518.8579)
    test = NYUv2Dataset(data_root=str(mmseg_root), split='test', test_mode=True, pipeline=PIPELINE)
    assert len(test) == 1
    np.testing.assert_allclose(test[0]['gt_depth'], 2.25)


def test_mmseg_image_without_depth(mmseg_root):
    (mmseg_root / 'annotations' / 'train' / '0003.png').unlink()
    with pytest.raises(FileNotFoundError, match='0003.png'):
        NYUv2Dataset(data_root=str(mmseg_root), split='train')


def test_bts_layout(tmp_path):
    scenes = tmp_path / 'test'
    write_pair(scenes / 'bathroom' / 'rgb_00045.jpg', scenes / 'bathroom' / 'sync_depth_00045.png', 1500)
    write_pair(scenes / 'kitchen' / 'rgb_00001.jpg', scenes / 'kitchen' / 'sync_depth_00001.png', 4000)
    (tmp_path / 'nyudepthv2_test_files_with_gt.txt').write_text(
        'bathroom/rgb_00045.jpg bathroom/sync_depth_00045.png 518.8579\n'
        '\n'
        '/kitchen/rgb_00001.jpg /kitchen/sync_depth_00001.png 500.0\n'
        'kitchen/rgb_00001.jpg None 500.0\n')
    ds = NYUv2Dataset(data_root=str(tmp_path), split='test', layout='bts', pipeline=PIPELINE[:1])
    assert len(ds) == 3
    infos = [ds.get_data_info(i) for i in range(3)]
    assert infos[1]['img_path'] == str(tmp_path / 'test' / 'kitchen' / 'rgb_00001.jpg')
    assert infos[1]['focal_length_px'] == 500.0 and infos[1]['cam_intrinsics'][0, 0] == 500.0
    assert 'depth_path' not in infos[2]
    loaded = NYUv2Dataset(data_root=str(tmp_path), split='test', layout='bts', pipeline=PIPELINE)
    np.testing.assert_allclose(loaded[0]['gt_depth'], 1.5)
    np.testing.assert_allclose(loaded[1]['gt_depth'], 4.0)


def test_bts_malformed_line(tmp_path):
    (tmp_path / 'test').mkdir()
    (tmp_path / 'nyudepthv2_test_files_with_gt.txt').write_text('a.jpg b.png 518\nonly_two fields\n')
    with pytest.raises(ValueError, match=r'nyudepthv2_test_files_with_gt.txt:2'):
        NYUv2Dataset(data_root=str(tmp_path), split='test', layout='bts')


@pytest.mark.parametrize('lazy_init', [False, True])
def test_missing_root_names_layout_and_converter(tmp_path, lazy_init):
    root = tmp_path / 'nyu'
    with pytest.raises(FileNotFoundError) as info:
        NYUv2Dataset(data_root=str(root), split='train', lazy_init=lazy_init)
    message = str(info.value)
    assert str(root / 'images' / 'train') in message
    assert 'images/{train,test}/*.jpg' in message and 'annotations/{train,test}/*.png' in message
    assert 'millimetres' in message
    assert f'python tools/dataset_converters/nyu_labeled_mat.py nyu_depth_v2_labeled.mat splits.mat {root}' in message


def test_missing_bts_list_names_layout_and_converter(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        NYUv2Dataset(data_root=str(tmp_path), split='test', layout='bts', lazy_init=True)
    message = str(info.value)
    assert str(tmp_path / 'nyudepthv2_test_files_with_gt.txt') in message
    assert 'sync_depth_%05d.png' in message and 'tools/dataset_converters/nyu_labeled_mat.py' in message


def test_bad_layout():
    with pytest.raises(ValueError, match='layout'):
        NYUv2Dataset(data_root='x', layout='kitti')
