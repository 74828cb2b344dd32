"""Shared by the NYU training-tool tests: a tiny NYU tree with cached bokeh stacks, the ``--cfg-options`` that point
a NYU config at it, and ``tools/train.py`` run in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List, Tuple

import cv2
import numpy as np
import pytest

from mmbokeh.generators.stack_cache import write_stack

ROOT = Path(__file__).parents[2]


def make_tiny_nyu(root: Path, stacks: Path) -> None:
    """NYU (mmseg layout) with 2 train and 1 test image of 48x64, and a 3-frame cached stack per image."""
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


def train_options(tmp_path: Path, ckpt: Path) -> List[str]:
    """``--cfg-options`` for two iterations of a NYU + cached-stack config on :func:`make_tiny_nyu`'s tree."""
    data, stacks = tmp_path / 'nyu', tmp_path / 'stacks'
    opts = [f'load_from={ckpt}', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'train_dataloader.batch_size=1', 'default_hooks.logger.interval=1',
            # ViT-L weights with AdamW state are 4.7 GB per checkpoint: save the weights only
            'default_hooks.checkpoint.save_optimizer=False']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data}', f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.pipeline.2.backend.root={stacks}',
                 f'{loader}.dataset.pipeline.2.backend.data_root={data}',
                 f'{loader}.dataset.pipeline.3.scale=28']
    return opts + ['train_dataloader.dataset.pipeline.4.crop_size=[28,28]', 'val_evaluator.crop=None',
                   'test_evaluator.crop=None']


def missing_options(tmp_path: Path, missing: str, converter: str) -> Tuple[List[str], List[str]]:
    """Options with the data, the stacks or the checkpoint absent, and the texts the error must name."""
    ckpt = tmp_path / 'ckpt.pth'
    ckpt.write_bytes(b'')
    opts = train_options(tmp_path, ckpt)
    absent, expect = {
        'data': (tmp_path / 'nyu', ['images/train', 'nyu_labeled_mat.py']),
        'stacks': (tmp_path / 'stacks', [str(tmp_path / 'absent'), 'make_bokeh_stacks.py']),
        'checkpoint': (ckpt, ['absent.pth', converter]),
    }[missing]
    replacement = tmp_path / ('absent.pth' if missing == 'checkpoint' else 'absent')
    return [o.replace(str(absent), str(replacement)) for o in opts], expect


def run_train(config: str, args: List[str], tmp_path: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python tools/train.py CONFIG --work-dir <tmp>/work ARGS`` from the repository root."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, 'tools/train.py', config, '--work-dir', str(tmp_path / 'work'), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def tiny_nyu(tmp_path):
    """Writes the tiny NYU tree and its stacks into ``tmp_path``; returns the helpers above."""
    make_tiny_nyu(tmp_path / 'nyu', tmp_path / 'stacks')
    return SimpleNamespace(options=train_options, missing_options=missing_options, run=run_train)
