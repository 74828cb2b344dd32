"""mmbokeh.apis.stack_sensitivity: an identity-initialised neck ignores the stack (all rows equal); a neck that
mixes the frames gives other numbers when the stacks are replaced; stacks are replaced as documented; the command
line (tools/analysis/stack_sensitivity.py) prints the three rows."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.runner import save_checkpoint

from mmbokeh.apis import init_model, replace_stacks, stack_sensitivity

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/bokehdepth/dav2-s_synthetic.py'
SMALL = {'val_dataloader.dataset.num_samples': 4, 'load_from': None}


def test_replace_stacks():
    img = torch.arange(3.).view(3, 1, 1, 1).expand(3, 3, 2, 2)
    stack = torch.arange(3.).view(3, 1, 1, 1, 1).expand(3, 2, 3, 2, 2) + 10
    inputs = dict(img=img, stack=stack, stack_k=torch.ones(3, 2))
    assert torch.equal(replace_stacks(inputs, 'stack')['stack'], stack)
    reference = replace_stacks(inputs, 'reference')
    assert torch.equal(reference['stack'][:, 1], img) and torch.equal(reference['stack_k'], inputs['stack_k'])
    rolled = replace_stacks(inputs, 'rolled')['stack']
    assert [float(rolled[i, 0, 0, 0, 0]) for i in range(3)] == [11., 12., 10.]  # sample i gets sample i + 1's
    assert torch.equal(inputs['stack'], stack)  # the input dict is not modified
    with pytest.raises(ValueError, match='mode must be one of'):
        replace_stacks(inputs, 'zeros')
    with pytest.raises(KeyError, match='no .stack'):
        replace_stacks(dict(img=img), 'rolled')


def test_identity_neck_is_insensitive_and_official_neck_is_not():
    torch.manual_seed(0)
    identity = init_model(CONFIG, cfg_options={**SMALL, 'model.neck.init': 'identity'})
    rows = stack_sensitivity(identity.cfg, identity, batch_size=2)
    assert rows['stack'] == rows['reference'] == rows['rolled']
    torch.manual_seed(0)
    official = init_model(CONFIG, cfg_options={**SMALL, 'model.neck.layerscale_init': 1.0})
    rows = stack_sensitivity(official.cfg, official, batch_size=2)
    assert abs(rows['stack']['abs_rel'] - rows['rolled']['abs_rel']) > 1e-5
    assert rows['stack'] != rows['reference']  # untrained decoder: small, but not zero


def test_command_line(tmp_path):
    torch.manual_seed(0)
    model = init_model(CONFIG, cfg_options=SMALL)
    save_checkpoint({'state_dict': model.state_dict()}, str(tmp_path / 'fused.pth'))
    res = subprocess.run([sys.executable, 'tools/analysis/stack_sensitivity.py', str(CONFIG),
                          str(tmp_path / 'fused.pth'),
                          '--batch-size', '2', '--cfg-options', 'val_dataloader.dataset.num_samples=4'],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line.split() for line in res.stdout.splitlines() if line.split()[:1] in (['stack'], ['reference'],
                                                                                       ['rolled'])]
    assert [line[0] for line in lines] == ['stack', 'reference', 'rolled'] and all(len(x) == 10 for x in lines)
