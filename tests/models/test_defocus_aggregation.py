"""DefocusAggregation: official DSFA numerics, identity init, parameter budget, chunking and no-grad equivalence."""
import pytest
import torch

from mmbokeh.models.necks import DefocusAggregation
from mmbokeh.registry import MODELS


def _randomise(module: torch.nn.Module, std: float = 0.1) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)


def test_block_matches_official_numerics(dsfa_oracle):
    torch.manual_seed(0)
    neck = DefocusAggregation(64, fuse_taps=[1], num_heads=8)
    _randomise(neck)
    official = {f'encoder_fusion.layers.1.block.{k[len("layers.1."):]}': v for k, v in neck.state_dict().items()}
    ref, stack, k = torch.randn(2, 20, 64), torch.randn(2, 3, 20, 64), torch.tensor([[1., 6., 11.], [2., 3., 30.]])
    taps = [torch.randn(2, 4, 20, 64), torch.cat([ref[:, None], stack], 1)]
    out = neck(taps, torch.cat([torch.zeros(2, 1), k], 1))
    expected = dsfa_oracle.official_dsfa_block(official, 'encoder_fusion.layers.1.block', ref, stack, k)
    torch.testing.assert_close(out[1], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[0], taps[0][:, 0])  # unfused taps pass the reference frame through


def test_single_scaled_space_attention_is_a_different_model():
    torch.manual_seed(0)
    a = DefocusAggregation(64, fuse_taps=[0])
    b = DefocusAggregation(64, fuse_taps=[0], official_space_scale=False)
    _randomise(a, std=0.5)
    b.load_state_dict(a.state_dict())
    taps, k = [torch.randn(1, 3, 10, 64)], torch.tensor([[0., 10., 20.]])
    assert (a(taps, k)[0] - b(taps, k)[0]).abs().max() > 1e-2


def test_k_embed_scale_scales_only_the_k_embedding():
    """k_embed_scale = s embeds s * K but keeps the focus bias on raw K: equal to the official block fed s * K when
    the bias is off (alpha 0), different from it when the bias is on."""
    torch.manual_seed(0)
    taps, k = [torch.randn(2, 4, 10, 64)], torch.tensor([[0., 10., 20., 30.], [0., 5., 15., 30.]])
    outs = {}
    for alpha in (0.0, 0.5):
        scaled = DefocusAggregation(64, fuse_taps=[0], alpha=alpha, k_embed_scale=1 / 30)
        plain = DefocusAggregation(64, fuse_taps=[0], alpha=alpha)
        _randomise(scaled, std=0.2)
        plain.load_state_dict(scaled.state_dict())
        outs[alpha] = scaled(taps, k)[0], plain(taps, k / 30)[0]
    torch.testing.assert_close(*outs[0.0], rtol=1e-5, atol=1e-5)
    assert (outs[0.5][0] - outs[0.5][1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match='k_embed_scale must be > 0'):
        DefocusAggregation(64, k_embed_scale=0)


def test_parameters_per_tap_match_official_block_at_vit_s():
    neck = DefocusAggregation(384, fuse_taps=[2, 3])
    per_tap = sum(p.numel() for p in neck.parameters()) / 2
    assert per_tap == 3_883_584  # about 3.9 M, the official block at D = 384


def _estimator(init: str, fuse_taps=(2, 3), **kwargs):
    return MODELS.build(dict(
        type='mmbokeh.BokehDepthEstimator',
        backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                      img_size=64),
        decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0,
                         loss_decode=dict(type='mmbokeh.SiLogLoss')),
        neck=dict(type='mmbokeh.DefocusAggregation', in_channels=192, fuse_taps=fuse_taps, num_heads=4, init=init),
        **kwargs))


def test_identity_init_leaves_a_pretrained_model_unchanged():
    torch.manual_seed(0)
    model = _estimator('identity').eval()
    image, stack, k = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 3, 64, 64), torch.tensor([[10., 20., 30.]] * 2)
    with torch.no_grad():
        plain, fused = model.forward_depth(image), model.forward_depth(image, stack, k)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-6)
    official = _estimator('official').eval()
    official.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith('neck.')}, strict=False)
    with torch.no_grad():
        assert (official.forward_depth(image, stack, k) - plain).abs().max() > 1e-4


@pytest.mark.parametrize('kwargs', [dict(frame_chunk=3), dict(stack_grad=False)])
def test_chunking_and_no_grad_stack_keep_outputs_and_reference_gradient(kwargs):
    torch.manual_seed(0)
    base = _estimator('official').train()
    other = _estimator('official', **kwargs).train()
    other.load_state_dict(base.state_dict())
    image, stack, k = torch.randn(2, 3, 64, 64), torch.randn(2, 2, 3, 64, 64), torch.tensor([[5., 25.]] * 2)
    a, b = base.forward_depth(image, stack, k), other.forward_depth(image, stack, k)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    b.mean().backward()
    assert other.backbone.vit.patch_embed.proj.weight.grad.abs().sum() > 0
    assert other.neck.layers['3'].gamma_focus_attn.grad.abs().sum() > 0


@pytest.mark.parametrize('stack_grad', [True, False])
def test_shallow_fusion_runs_the_stack_only_to_the_deepest_fused_tap(stack_grad):
    torch.manual_seed(0)
    model = _estimator('official', fuse_taps=[0, 1], stack_grad=stack_grad).train()
    image, stack, k = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 3, 64, 64), torch.tensor([[5., 10., 15.]] * 2)
    seen = {}
    for i in (5, 6):  # block 5 makes tap 1, the deepest fused one; block 6 is needed by the reference only
        model.backbone.vit.blocks[i].register_forward_hook(lambda m, a, o, i=i: seen.setdefault(i, []).append(len(o)))
    depth = model.forward_depth(image, stack, k)
    assert sorted(seen[5]) == [2, 6] and seen[6] == [2]
    # oracle: every frame through the whole encoder, then the neck and the decoder
    frames = torch.cat([image[:, None], stack], dim=1).flatten(0, 1)
    with torch.no_grad():
        taps = [t.unflatten(0, (2, 4)) for t in model.backbone(frames)]
        expected = model.decode_head(model.neck(taps, torch.cat([torch.zeros(2, 1), k], 1)), (4, 4)).squeeze(1)
    torch.testing.assert_close(depth, expected, rtol=1e-5, atol=1e-5)
    depth.mean().backward()
    assert (model.backbone.vit.blocks[11].attn.qkv.weight.grad.abs().sum() > 0)
    assert model.neck.layers['1'].gamma_focus_attn.grad.abs().sum() > 0


def test_bad_stack_shapes_are_named():
    model = _estimator('official')
    with pytest.raises(ValueError, match=r"inputs\['stack_k'\] must be \[B, S\] = \(1, 2\), got \(1, 3\)"):
        model.forward_depth(torch.randn(1, 3, 64, 64), torch.randn(1, 2, 3, 64, 64), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"inputs\['stack'\] must be \[B, S, 3, H, W\]"):
        model.forward_depth(torch.randn(1, 3, 64, 64), torch.randn(1, 2, 3, 32, 64), torch.zeros(1, 2))
