"""MPViT backbone: published parameter counts, output shapes and strides, freezing, bad arguments, key conversion."""
import math

import pytest
import torch

import mmbokeh  # noqa: F401  (registers the modules)
from mmbokeh.models.backbones import MPVIT_ARCHS, MPViT
from mmbokeh.models.backbones.mpvit import convert_official_mpvit
from mmbokeh.registry import MODELS

# Trainable parameters of the official models with their 1000-class head (youngwanLEE/MPViT).
PUBLISHED_PARAMS = {'tiny': 5_843_736, 'xsmall': 10_573_448, 'small': 22_892_400, 'base': 74_845_976}
DENSE_CHANNELS = {'tiny': [96, 176, 216, 216], 'xsmall': [128, 192, 256, 256], 'small': [128, 216, 288, 288],
                  'base': [224, 368, 480, 480]}


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _tiny(**kwargs) -> MPViT:
    torch.manual_seed(0)
    return MPViT(arch='tiny', **kwargs)


@pytest.fixture(scope='module')
def tiny_eval() -> MPViT:
    return _tiny().eval()


@pytest.mark.parametrize('arch', sorted(PUBLISHED_PARAMS))
def test_parameter_counts_equal_the_published_ones(arch):
    model = MPViT(arch, num_classes=1000)
    assert _num_params(model) == PUBLISHED_PARAMS[arch]
    head = (MPVIT_ARCHS[arch]['embed_dims'][-1] + 1) * 1000
    assert _num_params(model) - _num_params(model.stages) - _num_params(model.stem) == head
    assert model.out_channels == DENSE_CHANNELS[arch]


@pytest.mark.parametrize('size', [(64, 96), (70, 50), (33, 17)])
def test_outputs_have_the_dense_channels_at_ceil_divided_sizes(size, tiny_eval):
    model = tiny_eval
    assert model.out_channels == [96, 176, 216, 216] and model.strides == [4, 8, 16, 32]
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    assert isinstance(outs, tuple)
    expected = [(2, c, math.ceil(size[0] / s), math.ceil(size[1] / s)) for c, s in zip(model.out_channels,
                                                                                       model.strides)]
    assert [tuple(o.shape) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


def test_out_indices_subset_returns_those_maps_and_skips_later_stages(tiny_eval):
    full = tiny_eval
    part = _tiny(out_indices=(2, 0)).eval()
    assert part.out_indices == [0, 2] and part.out_channels == [96, 216] and part.strides == [4, 16]
    calls = []
    part.stages[3].register_forward_hook(lambda *args: calls.append(1))
    image = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        outs, ref = part(image), full(image)
    assert len(outs) == 2 and not calls
    torch.testing.assert_close(outs[0], ref[0])
    torch.testing.assert_close(outs[1], ref[2])


def test_gradient_reaches_the_stem_and_every_parameter():
    model = _tiny(drop_path_rate=0.1).train()
    sum(o.square().mean() for o in model(torch.randn(2, 3, 36, 44))).backward()
    assert model.stem[0].conv.weight.grad is not None and model.stem[0].conv.weight.grad.abs().sum() > 0
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_drop_path_is_linear_over_blocks_and_shared_by_the_paths_of_a_stage():
    model = _tiny(drop_path_rate=0.7)  # tiny has 1 + 2 + 4 + 1 = 8 blocks
    rates = [[[getattr(b.drop_path, 'drop_prob', 0.0) for b in enc.blocks] for enc in stage.encoders]
             for stage in model.stages]
    expected = torch.linspace(0, 0.7, 8).tolist()
    assert [paths[0] for paths in rates] == [expected[:1], expected[1:3], expected[3:7], expected[7:]]
    assert all(path == paths[0] for paths in rates for path in paths)


def test_classifier_head_only_with_num_classes():
    model = _tiny(num_classes=10).eval()
    with torch.no_grad():
        assert model.forward_classifier(torch.randn(2, 3, 30, 42)).shape == (2, 10)
    with pytest.raises(RuntimeError, match='num_classes > 0'):
        _tiny().forward_classifier(torch.randn(1, 3, 32, 32))


def test_norm_eval_keeps_batchnorm_statistics_in_train_mode():
    model = _tiny(norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns) and model.training
    before = {k: v.clone() for k, v in model.state_dict().items() if 'running' in k}
    model(torch.randn(2, 3, 24, 24))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    moving = _tiny().train()
    moving(torch.randn(2, 3, 24, 24))
    assert not torch.equal(moving.stem[0].bn.running_mean, before['stem.0.bn.running_mean'])


def test_frozen_stages_freeze_the_stem_and_the_first_stages():
    model = _tiny(frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1].parameters())
    assert not model.stem.training and not model.stages[0].training and model.stages[1].training
    assert all(p.requires_grad for p in _tiny().parameters())


def test_bad_arguments_name_the_parameter_and_the_accepted_values():
    with pytest.raises(ValueError, match=r"one of \['base', 'small', 'tiny', 'xsmall'\].*got 'huge'"):
        MPViT('huge')
    with pytest.raises(ValueError, match=r'out_indices must be stage indices in \[0, 3\], got \[4\]'):
        _tiny(out_indices=(4,))
    with pytest.raises(ValueError, match='out_indices must be distinct'):
        _tiny(out_indices=(1, -3))
    with pytest.raises(ValueError, match=r'frozen_stages must be in \[-1, 4\], got 5'):
        _tiny(frozen_stages=5)
    with pytest.raises(ValueError, match=r"missing \['mlp_ratio'\], unknown \['depth'\]"):
        MPViT(dict(num_path=[1], num_layers=[1], embed_dims=[16], num_heads=8, depth=3), out_indices=(0,))
    with pytest.raises(ValueError, match='must split all num_heads=4 heads'):
        MPViT(dict(num_path=[1], num_layers=[1], embed_dims=[16], mlp_ratio=2, num_heads=4), out_indices=(0,))


def test_custom_arch_dict():
    arch = dict(num_path=[1, 2], num_layers=[1, 1], embed_dims=[16, 24], mlp_ratio=2, num_heads=4,
                crpe_windows={3: 2, 5: 2})
    model = MPViT(arch, in_channels=1, out_indices=(0, 1)).eval()
    assert model.out_channels == [24, 24] and model.strides == [4, 8]
    assert [o.shape[1:] for o in model(torch.randn(1, 1, 30, 30))] == [(24, 8, 8), (24, 4, 4)]


def test_builds_from_the_registry():
    model = MODELS.build(dict(type='mmbokeh.MPViT', arch='tiny', out_indices=(1, 2)))
    assert isinstance(model, MPViT) and model.out_channels == [176, 216]


def test_official_checkpoint_keys_are_renamed_and_block_aliases_dropped():
    official = {
        'stem.1.bn.running_var': 1,
        'patch_embed_stages.2.patch_embeds.1.patch_conv.dwconv.weight': 2,
        'patch_embed_stages.2.patch_embeds.1.patch_conv.pwconv.weight': 3,
        'patch_embed_stages.2.patch_embeds.1.patch_conv.bn.bias': 4,
        'mhca_stages.2.mhca_blks.1.cpe.proj.bias': 5,
        'mhca_stages.2.mhca_blks.1.crpe.conv_list.2.weight': 6,
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.factoratt_crpe.qkv.weight': 7,
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.mlp.fc2.bias': 8,
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.norm1.weight': 9,
        'mhca_stages.2.InvRes.conv1.conv.weight': 10,
        'mhca_stages.2.InvRes.norm.running_mean': 11,
        'mhca_stages.2.aggregate.bn.weight': 12,
        'cls_head.cls.weight': 13,
        # aliases of the encoder's shared position encodings, dropped:
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.cpe.proj.bias': 0,
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.crpe.conv_list.2.weight': 0,
        'mhca_stages.2.mhca_blks.1.MHCA_layers.3.factoratt_crpe.crpe.conv_list.2.weight': 0,
    }
    converted = convert_official_mpvit({'model': official})
    assert list(converted) == [
        'stem.1.bn.running_var', 'stages.2.embeds.1.depthwise.weight', 'stages.2.embeds.1.pointwise.weight',
        'stages.2.embeds.1.bn.bias', 'stages.2.encoders.1.cpe.conv.bias', 'stages.2.encoders.1.crpe.convs.2.weight',
        'stages.2.encoders.1.blocks.3.attn.qkv.weight', 'stages.2.encoders.1.blocks.3.mlp.fc2.bias',
        'stages.2.encoders.1.blocks.3.norm1.weight', 'stages.2.local.conv1.conv.weight',
        'stages.2.local.bn.running_mean', 'stages.2.aggregate.bn.weight', 'head.weight']
    assert list(converted.values()) == list(range(1, 14))
    keys = set(MPViT('tiny', num_classes=1000).state_dict())
    assert set(converted) <= keys
    with pytest.raises(KeyError, match='pos_embed'):
        convert_official_mpvit({'pos_embed': 0})
