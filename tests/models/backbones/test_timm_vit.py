"""TimmViT / DINOv2 backbone: taps, activation checkpointing, freezing, bad arguments."""
import pytest
import torch

from mmbokeh.models.backbones import DINOv2, TimmViT

TINY = dict(embed_dim=48, depth=4, num_heads=2, img_size=56)


def _tiny(**kwargs) -> DINOv2:
    torch.manual_seed(0)
    return DINOv2(arch='s', out_indices=(1, 3), **TINY, **kwargs)


def test_taps_are_normed_patch_tokens_of_the_chosen_blocks():
    model = _tiny().eval()
    image = torch.randn(2, 3, 42, 70)
    taps = model(image)
    assert [t.shape for t in taps] == [torch.Size([2, 3 * 5, 48])] * 2
    x = model.tokens(image)
    for i, block in enumerate(model.vit.blocks):
        x = block(x)
        if i == 3:
            torch.testing.assert_close(taps[1], model.vit.norm(x)[:, 1:])


def test_num_taps_returns_the_first_taps_and_runs_only_the_blocks_they_need():
    model = _tiny().eval()
    image = torch.randn(2, 3, 56, 56)
    calls = []
    model.vit.blocks[3].register_forward_hook(lambda *args: calls.append(1))
    first = model(image, num_taps=1)
    assert len(first) == 1 and not calls
    torch.testing.assert_close(first[0], model(image)[0])
    assert calls == [1]
    for bad in (0, 3):
        with pytest.raises(ValueError, match=f'num_taps must be in \\[1, 2\\], got {bad}'):
            model(image, num_taps=bad)


def test_with_cp_gives_the_same_outputs_and_gradients():
    image = torch.randn(2, 3, 56, 56)
    grads = []
    for with_cp in (False, True):
        model = _tiny(with_cp=with_cp).train()
        sum(t.square().mean() for t in model(image)).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], msg=name)


def test_frozen_backbone_has_no_trainable_parameters_and_stays_in_eval():
    model = _tiny(frozen=True).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match='out_indices'):
        TimmViT('vit_small_patch14_dinov2', out_indices=(7, ), **TINY)
    with pytest.raises(ValueError, match='arch'):
        DINOv2(arch='xl')
    with pytest.raises(ValueError, match='multiple of the patch size'):
        _tiny()(torch.randn(1, 3, 50, 56))


def test_with_cp_block_lists_checkpoint_only_those_blocks(monkeypatch):
    """with_cp = [block indices] checkpoints those blocks only, with the outputs and gradients of no checkpointing;
    forward(with_cp=False) turns it off for one call."""
    from mmbokeh.models.backbones import timm_vit

    calls = []
    real = timm_vit.checkpoint
    monkeypatch.setattr(timm_vit, 'checkpoint', lambda fn, *a, **k: calls.append(fn) or real(fn, *a, **k))
    image = torch.randn(2, 3, 56, 56)
    grads = []
    for with_cp in (False, [0, -2]):
        model = _tiny(with_cp=with_cp).train()
        sum(t.square().mean() for t in model(image)).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert model.cp_blocks == {0, 2} and calls == [model.vit.blocks[0], model.vit.blocks[2]]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], msg=name)
    calls.clear()
    model(image, with_cp=False)
    assert not calls
    model.set_with_cp(True)
    model(image)
    assert len(calls) == 4 and model.cp_blocks == {0, 1, 2, 3}
    for bad, error in ((['0'], TypeError), ('all', TypeError), ([4], ValueError), ([True], TypeError)):
        with pytest.raises(error, match='with_cp'):
            _tiny(with_cp=bad)
