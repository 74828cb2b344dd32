"""MobileDFFDataset: a miniature Aligned/calibration tree loads through the base config; focus sorted and normalised
as DFV / DEReD do; errors name the path and the layout."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmbokeh.datasets.mobile_dff import normalise_focus
from mmbokeh.registry import DATASETS
from mmbokeh.visualization import depth_sample_layout

ROOT = Path(__file__).resolve().parents[2]
# calibrated focus of frames a00..a05 (not in focus order), aperture 2.5, focal length 40.0
FOCUS = {'keyboard': [30.0, 10.0, 20.0, 60.0, 40.0, 50.0], 'metals': [3.0, 1.0, 2.0, 6.0, 4.0, 5.0]}


def write_mobile(root: Path, scenes=('keyboard', 'metals')) -> Path:
    for scene in scenes:
        figure, calib = {'keyboard': ('Figure1', 'keyboard'), 'metals': ('Figure5', 'metal')}[scene]
        folder = root / 'Aligned' / figure / scene
        folder.mkdir(parents=True)
        for i in range(len(FOCUS[scene])):
            img = np.full((10, 14, 3), 20 * i, np.uint8)
            cv2.imwrite(str(folder / f'a{i:02d}.jpg'), img)
        cv2.imwrite(str(folder / 'original.jpg'), np.zeros((10, 14, 3), np.uint8))  # not an aligned frame
        (root / 'calibration' / calib).mkdir(parents=True)
        lines = [f'{f} 2.5' for f in FOCUS[scene]] + ['40.0']
        (root / 'calibration' / calib / 'calibrated.txt').write_text('\n'.join(lines) + '\n')
    return root


def build(data_root: Path, **overrides):
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/mobile_dff.py'))
    cfg.test_dataloader.dataset.update(data_root=str(data_root), **overrides)
    init_default_scope('mmbokeh')
    return DATASETS.build(cfg.test_dataloader.dataset)


def test_loads_through_the_base_config(tmp_path):
    root = write_mobile(tmp_path / 'mobile')
    dataset = build(root, scenes=['keyboard', 'metals'], num_frames=None)
    assert len(dataset) == 2 and dataset.metainfo['focus_units'] == 'dfv_normalised'
    packed = dataset[0]
    inputs, sample = packed['inputs'], packed['data_samples']
    assert 'gt_depth' not in sample and 'camera' not in inputs and sample.scene == 'keyboard'
    # frames sorted by focus: a01 (10), a02 (20), a00 (30), a04 (40), a05 (50), a03 (60); min-max normalised
    np.testing.assert_allclose(inputs['stack_focus'].numpy(), np.linspace(0, 1, 6), atol=1e-6)
    order = [1, 2, 0, 4, 5, 3]
    info = dataset.get_data_info(0)
    assert [Path(p).name for p in info['focal_stack_paths']] == [f'a{i:02d}.jpg' for i in order]
    np.testing.assert_array_equal(info['calib_aperture'], 2.5)
    assert info['calib_focal_length'] == 40.0
    # the packed frames are the files, resized by the config (224 lower bound, multiple of 14)
    assert inputs['stack'].shape[0] == 6 and inputs['stack'].shape[2] % 14 == 0
    first = cv2.imread(info['focal_stack_paths'][0])
    assert abs(float(inputs['stack'][0].float().mean()) - float(first.mean())) < 1.0
    assert sample.img_source == 'frame:3'


def test_focus_normalisations_and_frame_subset(tmp_path):
    root = write_mobile(tmp_path / 'mobile')
    dered = build(root, scenes=['metals'], focus_norm='dered', num_frames=None).get_data_info(0)
    # DEReD: /39.37 and metals' focus reversed (frame i gets focus[n-1-i]), then sorted
    reversed_focus = np.array(FOCUS['metals'][::-1]) / 39.37
    np.testing.assert_allclose(dered['focus_dists'], np.sort(reversed_focus), rtol=1e-6)
    assert [Path(p).name for p in dered['focal_stack_paths']][0] == f'a{int(np.argmin(reversed_focus)):02d}.jpg'
    assert dered['focus_units'] == 'm_dered'
    dfv = build(root, scenes=['metals'], focus_norm='dfv', num_frames=3).get_data_info(0)
    # DFV: metals negated -> the largest calibrated focus first (a03, a05, a04, a00, a02, a01); picks 0, 2, 5;
    # negative values make 'min * 10 < max' true, so the values are evenly spaced
    names = [Path(p).name for p in dfv['focal_stack_paths']]
    assert names == ['a03.jpg', 'a04.jpg', 'a01.jpg']
    np.testing.assert_allclose(dfv['focus_dists'], [0.0, 0.4, 1.0], atol=1e-6)
    raw = build(root, scenes=['keyboard'], focus_norm='raw', num_frames=None).get_data_info(0)
    np.testing.assert_allclose(raw['focus_dists'], sorted(FOCUS['keyboard']))
    # evenly spaced when the range spans more than 10x, and for 'window'
    values, _ = normalise_focus(np.array([1.0, 50.0, 2.0]), 'bottles', 'dfv')
    np.testing.assert_allclose(values, [0, 0.5, 1])
    values, _ = normalise_focus(np.array([1.0, 1.2, 1.1, 1.9]), 'window', 'dfv')
    np.testing.assert_allclose(values, np.linspace(0, 1, 4))


def test_errors_name_the_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'(?s)Aligned.*Expected layout.*calibrated\.txt'):
        build(tmp_path / 'nowhere')
    root = write_mobile(tmp_path / 'mobile', scenes=('keyboard', ))
    with pytest.raises(FileNotFoundError, match=r'(?s)metals.*Figure5/metals.*Expected layout'):
        build(root, scenes=['metals'])
    (root / 'Aligned' / 'Figure1' / 'keyboard' / 'a05.jpg').unlink()
    with pytest.raises(ValueError, match=r'5 frames .* but 6 calibrated focus values'):
        build(root, scenes=['keyboard'])
    with pytest.raises(ValueError, match='is empty'):
        build(root, scenes=[])
    with pytest.raises(ValueError, match='unknown scenes'):
        build(root, scenes=['kitchen'])


def test_test_tool_saves_a_depth_image_per_scene(tmp_path):
    """The qualitative protocol: ``tools/test.py --show-dir`` on a model config with this dataset runs without
    ground truth and saves one drawing per scene."""
    import subprocess
    import sys

    import torch

    from mmbokeh.apis import init_model
    root = write_mobile(tmp_path / 'mobile')
    config = tmp_path / 'dav2-s_mobile_dff.py'
    config.write_text(
        f"_base_ = ['{ROOT}/configs/_base_/models/dav2_vits.py', '{ROOT}/configs/_base_/default_runtime.py',\n"
        f"          '{ROOT}/configs/_base_/datasets/mobile_dff.py']\n"
        f"test_dataloader = dict(num_workers=0, dataset=dict(data_root='{root}', scenes=['keyboard', 'metals']))\n"
        "test_cfg = dict(type='TestLoop')\nval_cfg = dict(type='ValLoop')\n")
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': init_model(str(config)).state_dict()}, ckpt)
    res = subprocess.run([sys.executable, 'tools/test.py', str(config), str(ckpt), '--work-dir', str(tmp_path / 'w'),
                          '--show-dir', 'vis'], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    drawn = sorted((tmp_path / 'w' / 'vis').glob('*.png'))
    assert [p.name.split('_')[0] for p in drawn] == ['keyboard', 'metals']  # one per scene, named by its frame
    image = cv2.imread(str(drawn[0]))
    # the 10x14 frame | its predicted depth (no ground truth, no error panel), with the row of the 5 stack frames
    assert image.shape[:2] == depth_sample_layout((10, 14), gt=False, error=False, num_frames=5)['size']
