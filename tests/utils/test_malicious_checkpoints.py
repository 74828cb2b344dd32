"""A checkpoint whose pickle would run code is refused on every loading path, and the code never runs.

The payload calls ``os.mkdir(marker)`` when unpickled; each path must fail and leave no marker."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmbokeh.apis import init_model
from mmbokeh.generators.diffusion.adapter import load_state_dict_file

ROOT = Path(__file__).parents[2]
DEMO = 'configs/depth_anything_v2/dav2-s_synthetic.py'


class _Payload:

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker), )


@pytest.fixture
def evil(tmp_path):
    """(path of a checkpoint with the payload in its state dict, marker path the payload would create)."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'x': torch.zeros(1)}, 'meta': _Payload(marker)}, path)
    return path, marker


def _refused(call, marker: Path) -> None:
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        call()
    assert not marker.exists()


def test_in_process_loading_paths(evil):
    path, marker = evil
    _refused(lambda: init_model(ROOT / DEMO, path), marker)  # mmengine load_checkpoint (load_from, init_model)
    model = init_model(ROOT / DEMO)
    _refused(lambda: model.backbone.load_pretrained(str(path)), marker)  # backbone `pretrained=`
    _refused(lambda: load_state_dict_file(str(path)), marker)  # Stage-1 adapter weights (bokeh_lora.bin)


@pytest.mark.parametrize('command', [
    ['tools/test.py', DEMO, '{ckpt}'],
    ['tools/train.py', DEMO, '--resume', '{ckpt}', '--cfg-options', 'train_cfg.max_iters=1'],
    ['tools/train.py', DEMO, '--cfg-options', 'load_from={ckpt}', 'train_cfg.max_iters=1'],
    ['tools/convert/dav2_to_mmbokeh.py', '{ckpt}', '{out}'],
    ['tools/convert/bokehdepth_to_mmbokeh.py', '{ckpt}', '{out}'],
    ['tools/convert/unidepth_to_mmbokeh.py', '{ckpt}', '{out}'],
], ids=['test', 'resume', 'load_from', 'convert_dav2', 'convert_bokehdepth', 'convert_unidepth'])
def test_tools_refuse_it(evil, tmp_path, command):
    path, marker = evil
    args = [a.format(ckpt=path, out=tmp_path / 'out.pth') for a in command]
    if args[0].startswith('tools/t'):
        args += ['--work-dir', str(tmp_path / 'work')]
    res = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode != 0
    assert 'Weights only load failed' in res.stderr, res.stderr[-3000:]
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()
