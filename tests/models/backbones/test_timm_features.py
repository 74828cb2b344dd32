"""TimmFeatures: strides / channels from timm's feature_info, local-file pretrained loading (no network), bad args."""
import os
import re

import pytest
import timm
import torch
from timm.models import adapt_input_conv

from mmbokeh.models.backbones import TimmFeatures
from mmbokeh.registry import MODELS


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Any attempt at the Hugging Face hub fails fast instead of reaching the network."""
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')


@pytest.mark.parametrize('name, out_indices, strides, channels', [
    ('resnet18', (0, 1, 2, 3, 4), [2, 4, 8, 16, 32], [64, 64, 128, 256, 512]),
    ('resnet18', (2, 4), [8, 32], [128, 512]),
    ('pvt_v2_b0', None, [4, 8, 16, 32], [32, 64, 160, 256]),
])
def test_levels_follow_feature_info(name, out_indices, strides, channels):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='mmbokeh.TimmFeatures', model_name=name, in_channels=5, out_indices=out_indices))
    assert model.strides == strides and model.out_channels == channels
    feats = model(torch.randn(2, 5, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, c, 64 // s, 96 // s) for c, s in zip(channels, strides)]


def test_odd_sizes_round_up_like_the_model():
    model = TimmFeatures('resnet18', in_channels=4).eval()
    feats = model(torch.randn(1, 4, 65, 97))
    assert [f.shape[-2:] for f in feats] == [(33, 49), (17, 25), (9, 13), (5, 7), (3, 4)]


def _saved(tmp_path, name):
    torch.manual_seed(1)
    src = timm.create_model(name).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(src.state_dict(), path)
    return src, str(path)


def _src_key(key: str) -> str:
    # timm's FeatureListNet flattens the top-level module path: 'stages_0.blocks...' <- 'stages.0.blocks...'
    return re.sub(r'^(\w+?)_(\d+)\.', r'\1.\2.', key)


@pytest.mark.parametrize('name, first_conv', [('resnet18', 'conv1.weight'), ('pvt_v2_b0', 'patch_embed.proj.weight')])
@pytest.mark.parametrize('in_channels', [3, 5, 1])
def test_pretrained_loads_the_local_file_and_adapts_the_first_conv(tmp_path, name, first_conv, in_channels):
    src, path = _saved(tmp_path, name)
    model = TimmFeatures(name, in_channels=in_channels, pretrained=True, checkpoint=path)
    model.init_weights()  # keeps the loaded weights
    reference = src.state_dict()
    for key, value in model.model.state_dict().items():
        expected = reference[_src_key(key)]
        if key == first_conv:
            expected = adapt_input_conv(in_channels, expected)
        torch.testing.assert_close(value, expected, rtol=0, atol=0, msg=key)
    if in_channels == 3:
        x = torch.randn(1, 3, 64, 64)
        expected = src.forward_intermediates(x, intermediates_only=True)
        got = model.eval()(x)
        for e, g in zip(expected[-len(got):], got):
            torch.testing.assert_close(g, e)


def test_pretrained_needs_a_local_checkpoint(tmp_path):
    with pytest.raises(ValueError, match=r"pretrained=True\) for 'resnet18' needs checkpoint=<local file>.*no network"):
        TimmFeatures('resnet18', pretrained=True)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        TimmFeatures('resnet18', pretrained=True, checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='only read with pretrained=True'):
        TimmFeatures('resnet18', checkpoint=str(tmp_path / 'x.pth'))


class _Payload:

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker), )


def test_checkpoint_is_read_weights_only(tmp_path):
    marker, path = tmp_path / 'code_ran', tmp_path / 'evil.pth'
    torch.save({'conv1.weight': torch.zeros(1), 'meta': _Payload(marker)}, path)
    with pytest.raises(RuntimeError, match='weights_only'):
        TimmFeatures('resnet18', pretrained=True, checkpoint=str(path))
    assert not marker.exists()


def test_bad_arguments():
    with pytest.raises(ValueError, match='in_channels must be a positive int, got 0'):
        TimmFeatures('resnet18', in_channels=0)
    with pytest.raises(ValueError, match=r"sets \['features_only', 'in_chans'\] itself"):
        TimmFeatures('resnet18', in_chans=4, features_only=False)
    model = TimmFeatures('resnet18', in_channels=4)
    with pytest.raises(ValueError, match=r'expects x of shape \[B, 4, H, W\], got \(1, 3, 32, 32\)'):
        model(torch.randn(1, 3, 32, 32))
