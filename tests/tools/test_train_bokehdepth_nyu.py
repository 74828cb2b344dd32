"""`tools/train.py configs/bokehdepth/dav2_nyu.py` (ViT-L) on a tiny NYU tree with cached stacks and a converted
random Depth Anything V2 checkpoint; and the clear failures when any of them is missing."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmbokeh.apis import init_model
from mmbokeh.generators.stack_cache import write_stack

ROOT = Path(__file__).parents[2]
CONFIG = 'configs/bokehdepth/dav2_nyu.py'


def _tiny_nyu(root: Path, stacks: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in [('train', 2), ('test', 1)]:
        (root / 'images' / split).mkdir(parents=True)
        (root / 'annotations' / split).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            cv2.imwrite(str(root / 'images' / split / f'{i:04d}.jpg'), img)
            cv2.imwrite(str(root / 'annotations' / split / f'{i:04d}.png'),
                        rng.integers(500, 9000, (48, 64), dtype=np.uint16))
            write_stack(stacks, f'images/{split}/{i:04d}', np.stack([cv2.GaussianBlur(img, (0, 0), s)
                                                                      for s in (1, 2, 3)]),
                        [10.0, 20.0, 30.0], meta=dict(bokeh_source='test:gaussian'))


def _run(args, tmp_path, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _options(tmp_path, ckpt):
    data, stacks = tmp_path / 'nyu', tmp_path / 'stacks'
    opts = [f'load_from={ckpt}', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'train_dataloader.batch_size=1', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data}', f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.pipeline.2.backend.root={stacks}',
                 f'{loader}.dataset.pipeline.2.backend.data_root={data}',
                 f'{loader}.dataset.pipeline.3.scale=28']
    return opts + ['train_dataloader.dataset.pipeline.4.crop_size=[28,28]', 'val_evaluator.crop=None',
                   'test_evaluator.crop=None']


@pytest.mark.timeout(1500)
def test_dav2_nyu_trains_from_converted_checkpoint(tmp_path):
    _tiny_nyu(tmp_path / 'nyu', tmp_path / 'stacks')
    # random ViT-L Depth Anything V2 weights in the official layout, converted by the official-checkpoint tool
    model = init_model(ROOT / 'configs/depth_anything_v2/dav2-l_nyu.py')
    official = {k.replace('backbone.vit.', 'pretrained.').replace('decode_head.', 'depth_head.'): v
                for k, v in model.state_dict().items()}
    del model
    torch.save(official, tmp_path / 'official.pth')
    del official
    ckpt = tmp_path / 'dav2-l.pth'
    conv = subprocess.run([sys.executable, 'tools/convert/dav2_to_mmbokeh.py', str(tmp_path / 'official.pth'),
                           str(ckpt)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert conv.returncode == 0 and 'ViT-L' in conv.stdout, conv.stderr[-2000:]
    os.remove(tmp_path / 'official.pth')
    res = _run(['--cfg-options', *_options(tmp_path, ckpt)], tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Load checkpoint from' in log and 'missing keys in source state_dict: neck.layers.2' in log
    assert 'Iter(train) [2/2]' in log and 'abs_rel:' in log


@pytest.mark.parametrize('missing', ['data', 'stacks', 'checkpoint'])
def test_dav2_nyu_names_what_is_missing(tmp_path, missing):
    _tiny_nyu(tmp_path / 'nyu', tmp_path / 'stacks')
    ckpt = tmp_path / 'ckpt.pth'
    ckpt.write_bytes(b'')
    opts = _options(tmp_path, ckpt)
    if missing == 'data':
        opts = [o.replace(str(tmp_path / 'nyu'), str(tmp_path / 'absent')) for o in opts]
        expect = ['images/train', 'nyu_labeled_mat.py']
    elif missing == 'stacks':
        opts = [o.replace(str(tmp_path / 'stacks'), str(tmp_path / 'absent')) for o in opts]
        expect = [str(tmp_path / 'absent'), 'make_bokeh_stacks.py']
    else:
        opts = [o.replace(str(ckpt), str(tmp_path / 'absent.pth')) for o in opts]
        expect = ['absent.pth', 'dav2_to_mmbokeh.py']
    res = _run(['--cfg-options', *opts], tmp_path, timeout=300)
    assert res.returncode != 0
    for text in expect:
        assert text in res.stderr, res.stderr[-3000:]
