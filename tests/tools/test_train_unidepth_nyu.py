"""`tools/train.py configs/unidepth_v2/unidepth_v2-l_dsfa_nyu.py` (ViT-L UniDepthV2-DSFA) on a tiny NYU tree with
cached stacks, from a converted UniDepthV2-L checkpoint in the upstream layout (the DSFA blocks are the only new
weights, as in the official fine-tuning); and the clear failures when data, stacks or checkpoint are missing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmbokeh.apis import init_model

ROOT = Path(__file__).parents[2]
CONFIG = 'configs/unidepth_v2/unidepth_v2-l_dsfa_nyu.py'


@pytest.mark.timeout(1800)
def test_unidepth_dsfa_nyu_trains_from_converted_checkpoint(tmp_path, tiny_nyu, unidepth_oracle):
    # UniDepthV2-L weights in the upstream layout (pixel_encoder.*, pixel_decoder.*), converted by the tool
    model = init_model(ROOT / 'configs/unidepth_v2/unidepth_v2-l.py')
    official = {unidepth_oracle.official_key(k).replace('pixel_encoder.backbone.', 'pixel_encoder.'): v
                for k, v in model.state_dict().items()}
    official['pixel_encoder.register_tokens'] = torch.zeros(1, 1, 1024)
    official['pixel_encoder.mask_token'] = torch.zeros(1, 1024)
    official['pixel_decoder.level_embeds'] = torch.zeros(1, 1, 4, 512)
    del model
    torch.save(official, tmp_path / 'official.pth')
    del official
    ckpt = tmp_path / 'unidepth_v2-l.pth'
    conv = subprocess.run([sys.executable, 'tools/convert/unidepth_to_mmbokeh.py', str(tmp_path / 'official.pth'),
                           str(ckpt)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert conv.returncode == 0 and 'ViT-L UniDepthV2,' in conv.stdout, conv.stderr[-2000:]
    os.remove(tmp_path / 'official.pth')
    res = tiny_nyu.run(CONFIG, ['--cfg-options', *tiny_nyu.options(tmp_path, ckpt)], tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Load checkpoint from' in log and 'missing keys in source state_dict: neck.layers.0' in log
    assert 'unexpected key' not in log
    assert 'Iter(train) [2/2]' in log and 'abs_rel:' in log
    for name in ('loss_silog', 'loss_confidence', 'loss_camera', 'loss_mse'):
        assert name + ':' in log


@pytest.mark.parametrize('missing', ['data', 'stacks', 'checkpoint'])
def test_unidepth_dsfa_nyu_names_what_is_missing(tmp_path, tiny_nyu, missing):
    opts, expect = tiny_nyu.missing_options(tmp_path, missing, 'unidepth_to_mmbokeh.py')
    res = tiny_nyu.run(CONFIG, ['--cfg-options', *opts], tmp_path, timeout=300)
    assert res.returncode != 0
    for text in expect:
        assert text in res.stderr, res.stderr[-3000:]
