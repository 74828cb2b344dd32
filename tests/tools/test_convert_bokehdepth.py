"""Official BokehDepth (DepthAnythingV2DSFA) checkpoint -> mmbokeh: every tensor lands, outputs agree."""
import subprocess
import sys
from pathlib import Path

import torch

from mmbokeh.apis import init_model

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/bokehdepth/dav2-s_nyu.py'


def _official_state(model) -> dict:
    """Random weights in the official key layout (DINOv2 mask_token included)."""
    torch.manual_seed(0)
    state = {}
    for key, value in model.state_dict().items():
        value = torch.randn_like(value) * 0.05 + (1.0 if 'norm' in key.split('.')[-2] or 'ln_' in key else 0.0)
        key = (key.replace('backbone.vit.', 'pretrained.').replace('decode_head.', 'depth_head.')
               .replace('neck.layers.2.', 'encoder_fusion.layers.2.block.')
               .replace('neck.layers.3.', 'encoder_fusion.layers.3.block.'))
        state[key] = value
    state['pretrained.mask_token'] = torch.zeros(1, 384)
    return state


def test_convert_bokehdepth_release(tmp_path, dsfa_oracle):
    model = init_model(CONFIG)
    official = _official_state(model)
    src, dst = tmp_path / 'DAV2_dsfa_release.pth', tmp_path / 'mmbokeh.pth'
    torch.save({'model': {'module.' + k: v for k, v in official.items()}}, src)
    result = subprocess.run([sys.executable, str(ROOT / 'tools/convert/bokehdepth_to_mmbokeh.py'), str(src),
                             str(dst)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'fused taps [2, 3]' in result.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(converted) == set(model.state_dict())
    assert len(converted) == len(official) - 1  # only mask_token dropped
    model = init_model(CONFIG, dst)
    x, stack, k = torch.randn(1, 3, 70, 98), torch.randn(1, 3, 3, 70, 98), torch.tensor([[10., 20., 30.]])
    with torch.no_grad():
        ours = model.forward_depth(x, stack, k)
        ref = dsfa_oracle.official_dsfa_forward(official, x, stack, k, fusion_layers=(2, 3), max_depth=10.0)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
