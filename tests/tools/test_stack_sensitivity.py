"""tools/analysis/stack_sensitivity.py: an identity-initialised neck ignores the stack (all rows equal); a neck that
mixes the frames gives other numbers when the stacks are replaced; the command line prints the three rows."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.runner import save_checkpoint

from mmbokeh.apis import init_model

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/bokehdepth/dav2-s_synthetic.py'
SMALL = {'val_dataloader.dataset.num_samples': 4, 'load_from': None}


def _tool():
    spec = importlib.util.spec_from_file_location('stack_sensitivity', ROOT / 'tools/analysis/stack_sensitivity.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_identity_neck_is_insensitive_and_official_neck_is_not():
    tool = _tool()
    torch.manual_seed(0)
    identity = init_model(CONFIG, cfg_options={**SMALL, 'model.neck.init': 'identity'})
    rows = tool.stack_sensitivity(identity.cfg, identity, batch_size=2)
    assert rows['stack'] == rows['reference'] == rows['rolled']
    torch.manual_seed(0)
    official = init_model(CONFIG, cfg_options={**SMALL, 'model.neck.layerscale_init': 1.0})
    rows = tool.stack_sensitivity(official.cfg, official, batch_size=2)
    assert abs(rows['stack']['abs_rel'] - rows['rolled']['abs_rel']) > 1e-5
    assert rows['stack'] != rows['reference']  # untrained decoder: small, but not zero
    with pytest.raises(ValueError, match='mode must be one of'):
        tool.replace_stacks([], torch.zeros(0), 'zeros')


def test_command_line(tmp_path):
    torch.manual_seed(0)
    model = init_model(CONFIG, cfg_options=SMALL)
    save_checkpoint({'state_dict': model.state_dict()}, str(tmp_path / 'fused.pth'))
    res = subprocess.run([sys.executable, 'tools/analysis/stack_sensitivity.py', str(CONFIG), str(tmp_path / 'fused.pth'),
                          '--batch-size', '2', '--cfg-options', 'val_dataloader.dataset.num_samples=4'],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line.split() for line in res.stdout.splitlines() if line.split()[:1] in (['stack'], ['reference'],
                                                                                       ['rolled'])]
    assert [line[0] for line in lines] == ['stack', 'reference', 'rolled'] and all(len(x) == 10 for x in lines)
