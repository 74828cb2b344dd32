"""tools/convert/unidepth_to_mmbokeh.py on official-layout checkpoints (UniDepthV2-DSFA release format and upstream
UniDepthV2): every tensor lands, the dropped ones are named, outputs agree with the official forward."""
import subprocess
import sys
from pathlib import Path

import torch

from mmbokeh.apis import init_model

ROOT = Path(__file__).parents[2]
DSFA = ROOT / 'configs/unidepth_v2/unidepth_v2-s_dsfa.py'
TAPS_S = (3, 6, 9, 12)  # official output_idx of the ViT-S variant


def _convert(src: Path, dst: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / 'tools/convert/unidepth_to_mmbokeh.py'), str(src), str(dst),
                           *extra], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_convert_dsfa_release(tmp_path, unidepth_oracle):
    model = init_model(DSFA)
    official = unidepth_oracle.random_official_state(model.state_dict(), seed=5)
    src, dst = tmp_path / 'UDv2_dsfa_release.pth', tmp_path / 'mmbokeh.pth'
    torch.save({'model': {'module.' + k: v for k, v in official.items()}}, src)
    result = _convert(src, dst)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'ViT-S UniDepthV2-DSFA (fused stages [0, 1, 2, 3])' in result.stdout
    for key in ('register_tokens', 'mask_token', 'level_embeds'):
        assert key in result.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(converted) == set(model.state_dict())
    model = init_model(DSFA, dst)  # strict load
    torch.manual_seed(0)
    x, stack, k = torch.randn(1, 3, 56, 84), torch.randn(1, 3, 3, 56, 84), torch.tensor([[10.0, 20.0, 30.0]])
    with torch.no_grad():
        ours = model.forward_depth(x, stack, k)
        ref = unidepth_oracle.official_forward(official, x, stack, k, taps=TAPS_S, heads=6, dec_heads=4)
    torch.testing.assert_close(ours, ref['depth'][:, 0], rtol=1e-4, atol=1e-4)


def test_convert_upstream_unidepth_v2_and_ema(tmp_path, unidepth_oracle):
    """Upstream UniDepthV2 keys (pixel_encoder.* without the DSFA wrapper): the DSFA blocks are the only missing
    keys, as in the official fine-tuning; --ema takes the EMA list."""
    model = init_model(DSFA)
    release = unidepth_oracle.random_official_state(model.state_dict())
    official = {k.replace('pixel_encoder.backbone.', 'pixel_encoder.'): v for k, v in release.items()
                if '.fusion_blocks.' not in k}
    shadow = [v + 1.0 for v in official.values()]
    src, dst = tmp_path / 'unidepthv2.pth', tmp_path / 'mmbokeh.pth'
    torch.save({'model': official, 'ema': {'shadow_params': shadow}}, src)
    result = _convert(src, dst, '--ema')
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'ViT-S UniDepthV2,' in result.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(model.state_dict()) - set(converted) == {k for k in model.state_dict() if k.startswith('neck.')}
    assert set(converted) <= set(model.state_dict())
    torch.testing.assert_close(converted['decode_head.camera_head.latents_pos'],
                               official['pixel_decoder.camera_layer.latents_pos'] + 1.0)


def test_convert_rejects_other_checkpoints(tmp_path):
    src = tmp_path / 'other.pth'
    torch.save({'pixel_encoder.cls_token': torch.zeros(1, 1, 384), 'foo.bar': torch.zeros(1)}, src)
    result = _convert(src, tmp_path / 'out.pth')
    assert result.returncode != 0 and 'not from UniDepthV2' in result.stderr
