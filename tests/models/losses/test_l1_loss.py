import pytest
import torch

from mmbokeh.models.losses import L1DepthLoss
from mmbokeh.registry import MODELS


def test_masked_mean_absolute_error():
    target = torch.tensor([[[[1.0, 2.0], [0.0, 4.0]]]])
    pred = torch.tensor([[[[2.0, 2.5], [9.0, 1.0]]]], requires_grad=True)
    mask = torch.tensor([[[[True, True], [True, False]]]])
    loss = L1DepthLoss(loss_weight=2.0)(pred, target, mask)
    # valid: pixels 0 and 1 (pixel 2 has target 0, pixel 3 is masked): mean(1, 0.5) = 0.75
    assert loss.item() == pytest.approx(1.5)
    loss.backward()
    expected = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])  # d|p - t| / dp = sign, times 2 / 2 pixels
    torch.testing.assert_close(pred.grad, expected)


def test_no_valid_pixel_and_shape_errors():
    pred = torch.ones(2, 3, 3, requires_grad=True)
    loss = L1DepthLoss()(pred, torch.zeros(2, 3, 3))
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match=r'\(2, 3, 3\).*\(2, 1, 3, 3\)'):
        L1DepthLoss()(pred, torch.ones(2, 1, 3, 3))


def test_registry_and_loss_name():
    loss = MODELS.build(dict(type='L1DepthLoss'))
    assert loss.loss_name == 'loss_l1'
