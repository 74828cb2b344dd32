import math

import pytest
import torch

from mmbokeh.models.losses import SiLogLoss
from mmbokeh.registry import MODELS


def test_pred_twice_target_closed_form():
    target = torch.rand(2, 1, 4, 5) * 5 + 0.5
    loss = SiLogLoss()(2 * target, target, torch.ones_like(target, dtype=torch.bool))
    # d = -log 2 everywhere: sqrt(log2^2 - 0.5 log2^2) = log2 * sqrt(0.5)
    assert loss.item() == pytest.approx(math.log(2) * math.sqrt(0.5), rel=1e-6)


def test_hand_values_and_lambda_and_weight():
    # d = log(target) - log(pred) = [0, 1]: mean(d^2) = 0.5, mean(d) = 0.5
    target = torch.tensor([[[1.0, math.e]]])
    pred = torch.ones(1, 1, 2)
    mask = torch.ones(1, 1, 2, dtype=torch.bool)
    assert SiLogLoss(lambd=0.5)(pred, target, mask).item() == pytest.approx(math.sqrt(0.5 - 0.125), rel=1e-6)
    assert SiLogLoss(lambd=0.0)(pred, target, mask).item() == pytest.approx(math.sqrt(0.5), rel=1e-6)
    assert SiLogLoss(lambd=1.0)(pred, target, mask).item() == pytest.approx(0.5, rel=1e-6)
    assert SiLogLoss(loss_weight=3.0)(pred, target, mask).item() == pytest.approx(3 * math.sqrt(0.375), rel=1e-6)


def test_batch_pixels_are_pooled():
    # image 0: d = [0, 0, 0], image 1: d = [1]; pooled over 4 pixels, not averaged per image
    target = torch.tensor([[1.0, 1.0], [1.0, math.e]]).view(2, 1, 1, 2)
    pred = torch.ones(2, 1, 1, 2)
    mask = torch.ones(2, 1, 1, 2, dtype=torch.bool)
    expected = math.sqrt(0.25 - 0.5 * 0.25 ** 2)
    assert SiLogLoss()(pred, target, mask).item() == pytest.approx(expected, rel=1e-6)


def test_mask_excludes_pixels_and_their_gradient():
    target = torch.tensor([[[2.0, 3.0, 0.0, 5.0]]])  # pixel 2 has no depth (0), pixel 3 masked out
    pred = torch.tensor([[[1.0, 3.0, 7.0, 0.1]]], requires_grad=True)
    mask = torch.tensor([[[True, True, True, False]]])
    loss = SiLogLoss()(pred, target, mask)
    d = torch.tensor([math.log(2.0), 0.0])
    assert loss.item() == pytest.approx(math.sqrt((d ** 2).mean() - 0.5 * d.mean() ** 2), rel=1e-6)
    loss.backward()
    g = pred.grad[0, 0]
    assert torch.isfinite(g).all()
    assert g[0] != 0 and g[1] != 0
    assert g[2] == 0 and g[3] == 0


def test_mask_defaults_to_positive_target_and_3d_input():
    target = torch.tensor([[2.0, 0.0]])
    pred = torch.tensor([[1.0, 50.0]])
    assert SiLogLoss()(pred.view(1, 1, 2), target.view(1, 1, 2)).item() == pytest.approx(
        math.log(2.0) * math.sqrt(0.5), rel=1e-6)


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    target = (torch.rand(1, 1, 3, 3, dtype=torch.float64) + 0.5)
    pred = (torch.rand(1, 1, 3, 3, dtype=torch.float64) + 0.5).requires_grad_()
    mask = torch.rand(1, 1, 3, 3) > 0.3
    loss_fn = SiLogLoss()
    # the loss computes in float32; compare its gradient with a float64 closed form instead
    loss_fn(pred, target, mask).backward()
    p = pred.detach().clone().requires_grad_()
    d = torch.log(target[mask]) - torch.log(p[mask])
    torch.sqrt((d ** 2).mean() - 0.5 * d.mean() ** 2).backward()
    torch.testing.assert_close(pred.grad, p.grad, rtol=1e-4, atol=1e-6)


def test_no_valid_pixel_gives_zero_with_grad_path():
    pred = torch.rand(1, 1, 2, 2, requires_grad=True)
    loss = SiLogLoss()(pred, torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_perfect_prediction_is_finite():
    target = torch.rand(1, 1, 2, 2) + 1
    pred = target.clone().requires_grad_()
    loss = SiLogLoss()(pred, target)
    loss.backward()
    assert loss.item() == pytest.approx(1e-6, abs=1e-7)
    assert torch.isfinite(pred.grad).all()


def test_pred_clamped_before_log():
    target = torch.ones(1, 1, 1, 2)
    pred = torch.tensor([[[[0.0, -1.0]]]])
    loss = SiLogLoss(eps=1e-3)(pred, target)
    # d = log(1) - log(1e-3) for both pixels: variance 0, sqrt(0.5) * |d|
    assert loss.item() == pytest.approx(math.sqrt(0.5) * math.log(1e3), rel=1e-5)


def test_bad_inputs_raise_clear_errors():
    loss = SiLogLoss()
    with pytest.raises(ValueError, match=r'\(1, 1, 2, 2\).*\(1, 2, 2\)'):
        loss(torch.ones(1, 1, 2, 2), torch.ones(1, 2, 2), None)
    with pytest.raises(ValueError, match='valid_mask shape'):
        loss(torch.ones(1, 2, 2), torch.ones(1, 2, 2), torch.ones(1, 2, 1, dtype=torch.bool))
    with pytest.raises(TypeError, match='bool'):
        loss(torch.ones(1, 2, 2), torch.ones(1, 2, 2), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match='pred must be'):
        loss(torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 2), None)
    with pytest.raises(ValueError, match='lambd'):
        SiLogLoss(lambd=2.0)


def test_registry_and_loss_name():
    loss = MODELS.build(dict(type='SiLogLoss', lambd=0.85))
    assert isinstance(loss, SiLogLoss) and loss.lambd == 0.85
    assert loss.loss_name == 'loss_silog'
