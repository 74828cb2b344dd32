"""`tools/train.py configs/bokehdepth/dav2_nyu.py` (ViT-L) on a tiny NYU tree with cached stacks and a converted
random Depth Anything V2 checkpoint; and the clear failures when any of them is missing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmbokeh.apis import init_model

ROOT = Path(__file__).parents[2]
CONFIG = 'configs/bokehdepth/dav2_nyu.py'


@pytest.mark.timeout(1500)
def test_dav2_nyu_trains_from_converted_checkpoint(tmp_path, tiny_nyu):
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
    res = tiny_nyu.run(CONFIG, ['--cfg-options', *tiny_nyu.options(tmp_path, ckpt)], tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Load checkpoint from' in log and 'missing keys in source state_dict: neck.layers.2' in log
    assert 'Iter(train) [2/2]' in log and 'abs_rel:' in log


@pytest.mark.parametrize('missing', ['data', 'stacks', 'checkpoint'])
def test_dav2_nyu_names_what_is_missing(tmp_path, tiny_nyu, missing):
    opts, expect = tiny_nyu.missing_options(tmp_path, missing, 'dav2_to_mmbokeh.py')
    res = tiny_nyu.run(CONFIG, ['--cfg-options', *opts], tmp_path, timeout=300)
    assert res.returncode != 0
    for text in expect:
        assert text in res.stderr, res.stderr[-3000:]
