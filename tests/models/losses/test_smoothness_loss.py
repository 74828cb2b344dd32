import math

import pytest
import torch

from mmbokeh.models.losses import EdgeAwareSmoothnessLoss
from mmbokeh.registry import MODELS

DEPTH = torch.tensor([[1.0, 2.0, 4.0],
                      [1.0, 3.0, 7.0]]).view(1, 1, 2, 3)
IMAGE = torch.stack([torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]),
                     torch.tensor([[0.0, 0.0, 0.0], [0.0, 2.0, 2.0]])]).view(1, 2, 2, 3)
# |dx D| = [[1, 2], [2, 4]]; |dx I| channel mean = [[(1+0)/2, 0], [(0+2)/2, 0]] = [[0.5, 0], [1, 0]]
# x term = (e^-0.5 + 2 + 2 e^-1 + 4) / 4
# |dy D| = [0, 1, 3]; |dy I| channel mean = [0, (1+2)/2, (1+2)/2] = [0, 1.5, 1.5]; y term = (0 + e^-1.5 + 3 e^-1.5) / 3
EXPECTED = (math.exp(-0.5) + 2 + 2 * math.exp(-1) + 4) / 4 + 4 * math.exp(-1.5) / 3  # 2.1330793


def test_hand_value():
    assert EXPECTED == pytest.approx(2.1330793, rel=1e-6)
    assert EdgeAwareSmoothnessLoss()(DEPTH, IMAGE).item() == pytest.approx(EXPECTED, rel=1e-6)
    assert EdgeAwareSmoothnessLoss(loss_weight=0.5)(DEPTH, IMAGE).item() == pytest.approx(EXPECTED / 2, rel=1e-6)


def test_normalize_divides_by_mean_depth():
    # mean depth = 18 / 6 = 3: every |dD| is divided by 3 (+1e-7)
    loss = EdgeAwareSmoothnessLoss(normalize=True)(DEPTH, IMAGE)
    assert loss.item() == pytest.approx(EXPECTED / 3, rel=1e-6)
    assert EdgeAwareSmoothnessLoss(normalize=True)(DEPTH * 10, IMAGE).item() == pytest.approx(EXPECTED / 3, rel=1e-6)


def test_gradient_by_hand():
    # 1x1x1x2: only an x term, L = |d1 - d0| exp(-|i1 - i0|) = 2 e^-1; dL/dd1 = e^-1, dL/dd0 = -e^-1
    depth = torch.tensor([1.0, 3.0]).view(1, 1, 1, 2).requires_grad_()
    image = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    loss = EdgeAwareSmoothnessLoss()(depth, image)
    assert loss.item() == pytest.approx(2 * math.exp(-1), rel=1e-6)
    loss.backward()
    torch.testing.assert_close(depth.grad, torch.tensor([-math.exp(-1), math.exp(-1)]).view(1, 1, 1, 2))


def test_size_one_axes_give_zero_terms():
    depth = torch.rand(2, 1, 1, 1, requires_grad=True)
    loss = EdgeAwareSmoothnessLoss()(depth, torch.rand(2, 3, 1, 1))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(depth.grad, torch.zeros_like(depth))
    # column image: only the y term, |4 - 1| exp(-|1 - 0|) = 3 e^-1
    column_depth, column_image = torch.tensor([1.0, 4.0]).view(1, 1, 2, 1), torch.tensor([0.0, 1.0]).view(1, 1, 2, 1)
    column = EdgeAwareSmoothnessLoss()(column_depth, column_image)
    assert column.item() == pytest.approx(3 * math.exp(-1), rel=1e-6)


def test_bf16_autocast_gradients_finite():
    depth = (torch.rand(2, 1, 16, 16) * 10).to(torch.bfloat16).requires_grad_()
    image = torch.rand(2, 3, 16, 16).to(torch.bfloat16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = EdgeAwareSmoothnessLoss(normalize=True)(depth, image)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(depth.grad.float()).all() and depth.grad.abs().sum() > 0
    zero = EdgeAwareSmoothnessLoss(normalize=True)(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
    assert zero.item() == 0.0


def test_errors_and_registry():
    with pytest.raises(ValueError, match=r'depth must be \[B, 1, H, W\]'):
        EdgeAwareSmoothnessLoss()(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r'image must be \[B, C, H, W\] = \[1, C, 4, 4\]'):
        EdgeAwareSmoothnessLoss()(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 4, 5))
    loss = MODELS.build(dict(type='mmbokeh.EdgeAwareSmoothnessLoss', normalize=True))
    assert isinstance(loss, EdgeAwareSmoothnessLoss) and loss.loss_name == 'loss_smooth' and loss.normalize
