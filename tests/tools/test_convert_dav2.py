"""Official Depth Anything V2 checkpoint -> mmbokeh: every tensor lands and outputs equal the official forward."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmbokeh.apis import init_model
from mmbokeh.models.backbones import TimmViT
from mmbokeh.models.utils import encoder_arch

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/depth_anything_v2/dav2-s_nyu.py'


@pytest.fixture(scope='module')
def official_state():
    """Random ViT-S DAv2 weights in the official key layout (with DINOv2's mask_token)."""
    torch.manual_seed(0)
    model = init_model(CONFIG)
    state = {}
    for key, value in model.state_dict().items():
        value = torch.randn_like(value) * 0.05 + (1.0 if key.endswith(('norm1.weight', 'norm2.weight')) else 0.0)
        key = key.replace('backbone.vit.', 'pretrained.').replace('decode_head.', 'depth_head.')
        state[key] = value
    state['pretrained.mask_token'] = torch.zeros(1, 384)
    return state


def _convert(src: Path, dst: Path) -> dict:
    result = subprocess.run([sys.executable, str(ROOT / 'tools/convert/dav2_to_mmbokeh.py'), str(src), str(dst)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'ViT-S' in result.stdout
    return torch.load(dst, weights_only=True)


@pytest.mark.parametrize('layout', ['plain', 'training'])
def test_every_tensor_lands(official_state, tmp_path, layout):
    src = tmp_path / 'official.pth'
    obj = official_state if layout == 'plain' else {
        'model': {'module.' + k: v for k, v in official_state.items()}, 'epoch': 3}
    torch.save(obj, src)
    converted = _convert(src, tmp_path / 'mmbokeh.pth')['state_dict']
    model = init_model(CONFIG)
    assert set(converted) == set(model.state_dict())  # zero missing, zero unexpected
    for key, value in converted.items():
        official_key = key.replace('backbone.vit.', 'pretrained.').replace('decode_head.', 'depth_head.')
        assert torch.equal(value, official_state[official_key]), key


@pytest.mark.parametrize('size', [(518, 518), (266, 350)])
def test_outputs_equal_official(official_state, tmp_path, size, dav2_oracle):
    src = tmp_path / 'official.pth'
    torch.save(official_state, src)
    _convert(src, tmp_path / 'mmbokeh.pth')
    model = init_model(CONFIG, tmp_path / 'mmbokeh.pth')
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        ours = model.forward_depth(x)
        ref = dav2_oracle.official_forward(official_state, x, max_depth=model.decode_head.max_depth)
    assert ours.shape == (1, *size)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_timm_default_resampling_would_differ(official_state):
    """Control: timm's own (antialiased, size-based) position resampling is measurably off at 266x350."""
    vit = TimmViT('vit_small_patch14_dinov2', out_indices=[2, 5, 8, 11])
    vit.vit.load_state_dict({k[len('pretrained.'):]: v for k, v in official_state.items()
                             if k.startswith('pretrained.') and k != 'pretrained.mask_token'})
    model = init_model(CONFIG)
    model.backbone.vit.load_state_dict(vit.vit.state_dict())
    x = torch.randn(1, 3, 266, 350)
    with torch.no_grad():
        ours_taps, timm_taps = model.backbone(x), vit(x)
        ours, timm_default = model.decode_head(ours_taps, (19, 25)), model.decode_head(timm_taps, (19, 25))
    assert (ours_taps[0] - timm_taps[0]).abs().max() > 1e-2
    assert (ours - timm_default).abs().max() > 3e-5  # beyond the 1e-5 tolerance of the equality test


def test_encoder_size_read_from_weights():
    def fake(width, blocks):
        state = {'pretrained.cls_token': torch.zeros(1, 1, width)}
        state.update({f'pretrained.blocks.{i}.norm1.weight': torch.zeros(1) for i in range(blocks)})
        return state
    assert [encoder_arch(fake(w, n)) for w, n in [(384, 12), (768, 12), (1024, 24)]] == ['s', 'b', 'l']
    with pytest.raises(ValueError, match='expects 24 blocks'):
        encoder_arch(fake(1024, 12))
    with pytest.raises(KeyError, match='pretrained.cls_token'):
        encoder_arch({'encoder.weight': torch.zeros(1)})
