"""`tools/train.py` trains the shipped SDNet configs for two iterations (and validates) on miniature data in the real
formats: FoD500 as DefocusNet released it (TIFF + half-float EXR), DEReD's re-rendered FoD500 (PNG + AIF + .npy) and
NYUv2 (mmseg layout, focal stacks rendered on the fly)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers.fod500_tree import write_defocusnet, write_dered

from mmbokeh.apis import init_model

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def common_options(tmp_path: Path) -> list:
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'train_dataloader.batch_size=2',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2']
    return opts + [f'{loader}.{key}' for loader in LOADERS for key in ('num_workers=0', 'persistent_workers=False')]


@pytest.mark.timeout(900)
@pytest.mark.parametrize('config, layout', [('configs/sdnet/sdnet_fod500.py', 'defocusnet'),
                                            ('configs/sdnet/sdnet_fod500_dered.py', 'dered')])
def test_sdnet_fod500_trains_two_iterations(tmp_path, tiny_nyu, config, layout):
    root = write_defocusnet(tmp_path / 'fs_6') if layout == 'defocusnet' else write_dered(tmp_path / 'dered')
    opts = common_options(tmp_path) + [f'{loader}.dataset.data_root={root}' for loader in LOADERS]
    if layout == 'defocusnet':  # DFV's 224 px training crop, on 12x16 frames
        opts.append('train_dataloader.dataset.pipeline.2.crop_size=[12,16]')
    res = tiny_nyu.run(config, ['--cfg-options', *opts], tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Iter(train) [2/2]' in log and 'loss_recon:' in log and 'loss_defocus:' in log
    assert f'fod500_{layout}/all/abs_rel' in log
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()


@pytest.mark.timeout(900)
def test_sdnet_nyu_trains_two_iterations(tmp_path, tiny_nyu):
    opts = common_options(tmp_path) + [f'{loader}.dataset.data_root={tmp_path / "nyu"}' for loader in LOADERS]
    opts += [f'{loader}.dataset.pipeline.2.scale=[64,48]' for loader in LOADERS]
    opts += ['val_evaluator.crop=None', 'test_evaluator.crop=None']
    res = tiny_nyu.run('configs/sdnet/sdnet_nyu.py', ['--cfg-options', *opts], tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Iter(train) [2/2]' in log and 'loss_res:' in log and 'nyu_focal_stack/all/abs_rel' in log


def test_infer_saves_depth_and_defocus_map_of_a_photo(tmp_path):
    """SDNet on a photo: no focal stack, the config's test_cfg focus distance and camera; depth and defocus saved."""
    root = Path(__file__).resolve().parents[2]
    config = 'configs/sdnet/sdnet_synthetic.py'
    torch.manual_seed(0)
    torch.save({'state_dict': init_model(root / config).state_dict()}, tmp_path / 'sdnet.pth')
    photo = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'photo.png'), photo)
    res = subprocess.run([sys.executable, 'tools/infer.py', config, str(tmp_path / 'sdnet.pth'),
                          str(tmp_path / 'photo.png'), '--out', str(tmp_path / 'out'), '--cfg-options',
                          'model.test_cfg.focus_dist=2.0'], cwd=root, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    depth = np.load(tmp_path / 'out' / 'photo.npy')
    defocus = np.load(tmp_path / 'out' / 'photo_defocus.npy')
    assert depth.shape == defocus.shape == (40, 56) and np.isfinite(depth).all()
    assert 0 <= defocus.min() and defocus.max() <= 1
    assert cv2.imread(str(tmp_path / 'out' / 'photo_defocus.png')).shape == (40, 56, 3)
    assert cv2.imread(str(tmp_path / 'out' / 'photo.png')).shape == (40, 56, 3)
