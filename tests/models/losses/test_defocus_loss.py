import math

import pytest
import torch

from mmbokeh.models.losses import SiameseDefocusLoss, TripletDefocusLoss
from mmbokeh.registry import MODELS

R2 = math.sqrt(2.0)


def _pair():
    # two 2x2 patches side by side plus a 5th column that patch_size=2 must crop away
    pred1 = torch.tensor([[[[1.0, 0.0, 0.0, 0.0, 9.0],
                            [0.0, 0.0, 0.0, 3.0, 9.0]]]])
    pred2 = torch.tensor([[[[1.0, 1.0, 0.0, 0.0, -7.0],
                            [0.0, 0.0, 0.0, -2.0, 5.0]]]])
    return pred1, pred2


def test_negative_mean_patch_cosine_by_hand():
    pred1, pred2 = _pair()
    # patch 0: [1, 0, 0, 0] vs [1, 1, 0, 0] -> cos = 1/sqrt(2); patch 1: [0, 0, 0, 3] vs [0, 0, 0, -2] -> cos = -1
    # loss = -(1/sqrt(2) - 1) / 2 = 0.1464466
    loss = SiameseDefocusLoss(patch_size=2)(pred1, pred2)
    assert loss.item() == pytest.approx((1 - 1 / R2) / 2, rel=1e-6)
    assert SiameseDefocusLoss(loss_weight=2.0, patch_size=2)(pred1, pred2).item() == pytest.approx(1 - 1 / R2, rel=1e-6)
    # identical maps: cos = 1 on every patch
    assert SiameseDefocusLoss(patch_size=2)(pred2, pred2).item() == pytest.approx(-1.0, rel=1e-6)


def test_patch_flattens_channels_together():
    # 1x1 patches of 2 channels: [1, 0] vs [1, 1] -> cos = 1/sqrt(2) (per-channel cosines would average to 0.5)
    pred1 = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    pred2 = torch.tensor([1.0, 1.0]).view(1, 2, 1, 1)
    assert SiameseDefocusLoss(patch_size=1)(pred1, pred2).item() == pytest.approx(-1 / R2, rel=1e-6)


def test_symmetric_stopgrad_same_value_half_gradient():
    # one 2x2 patch: a = [1, 0, 0, 0], b = [1, 1, 0, 0], cos = 1/sqrt(2)
    # d cos / d a = b / (|a||b|) - cos a / |a|^2 = [0, 1/sqrt(2), 0, 0]
    # d cos / d b = a / (|a||b|) - cos b / |b|^2 = [1/(2 sqrt(2)), -1/(2 sqrt(2)), 0, 0]
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    b = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    grad_a = torch.tensor([0.0, 1 / R2, 0.0, 0.0]).view(1, 1, 2, 2)
    grad_b = torch.tensor([1 / (2 * R2), -1 / (2 * R2), 0.0, 0.0]).view(1, 1, 2, 2)
    for symmetric, factor in ((False, 1.0), (True, 0.5)):
        p1, p2 = a.clone().requires_grad_(), b.clone().requires_grad_()
        loss = SiameseDefocusLoss(patch_size=2, symmetric_stopgrad=symmetric)(p1, p2)
        assert loss.item() == pytest.approx(-1 / R2, rel=1e-6)
        loss.backward()
        # loss = -cos (plain) or -(cos(a, sg b) + cos(b, sg a)) / 2 (SimSiam): half of -d cos on each side
        torch.testing.assert_close(p1.grad, -factor * grad_a)
        torch.testing.assert_close(p2.grad, -factor * grad_b)


def test_zero_patches_give_zero_not_nan():
    pred1 = torch.zeros(2, 3, 8, 8, requires_grad=True)
    pred2 = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = SiameseDefocusLoss(patch_size=4)(pred1, pred2)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred1.grad, torch.zeros_like(pred1)) and torch.equal(pred2.grad, torch.zeros_like(pred2))
    both_zero = TripletDefocusLoss(patch_size=4, margin=0.3)(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    assert both_zero.item() == pytest.approx(0.3)  # all cosines 0: relu(1 - 1 + margin)


def test_shape_errors():
    with pytest.raises(ValueError, match='patch_size=8'):
        SiameseDefocusLoss()(torch.rand(1, 1, 7, 16), torch.rand(1, 1, 7, 16))
    with pytest.raises(ValueError, match='patch_size=4'):
        TripletDefocusLoss(patch_size=4)(torch.rand(1, 1, 8, 3), torch.rand(1, 1, 8, 3))
    with pytest.raises(ValueError, match=r'pred2 shape \(1, 1, 8, 9\)'):
        SiameseDefocusLoss()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9))
    with pytest.raises(ValueError, match=r'pred1 must be \[B, C, H, W\]'):
        SiameseDefocusLoss()(torch.rand(8, 8), torch.rand(8, 8))
    with pytest.raises(ValueError, match='patch_size'):
        SiameseDefocusLoss(patch_size=0)


def test_triplet_by_hand_rolls_to_next_patch():
    # three 1x1 patches of 2 channels: anchors a, positives p; negative of patch i is p[i + 1] (p[0] for the last)
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]).t().reshape(1, 2, 1, 3)
    p = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).t().reshape(1, 2, 1, 3)
    delta = 1 - 1 / R2  # 1 - cos([1, 0], [1, 1])
    # i=0: d(a0,p0)=delta, n0=p1=[1,0], d=0 -> delta + 0.2; i=1: d=1, n1=p2=[0,1], d=0 -> 1.2
    # i=2: d=1, n2=p0=[1,1], d=delta -> 1.2 - delta; mean = 2.6 / 3 (rolling the other way gives 2.1071 / 3)
    expected = ((delta + 0.2) + 1.2 + (1.2 - delta)) / 3
    loss = TripletDefocusLoss(patch_size=1, margin=0.2)(a, p)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert TripletDefocusLoss(loss_weight=3.0, patch_size=1, margin=0.2)(a, p).item() == pytest.approx(3 * expected,
                                                                                                         rel=1e-6)
    # identical maps, margin 0.5: d(a, p) = 0, relu(0.5 - d(a, n)) with d(p0, p1) = delta, d(p1, p2) = 1,
    # d(p2, p0) = delta -> (2 * (0.5 - delta) + 0) / 3 = 0.1380712
    assert TripletDefocusLoss(patch_size=1, margin=0.5)(p, p).item() == pytest.approx(2 * (0.5 - delta) / 3, rel=1e-5)


def test_triplet_negative_stays_in_its_image():
    # one patch per image: the negative is the positive itself, loss = margin (a roll over the batch would mix images)
    pred1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(2, 2, 1, 1)
    pred2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).view(2, 2, 1, 1)
    assert TripletDefocusLoss(patch_size=1, margin=0.2)(pred1, pred2).item() == pytest.approx(0.2)


@pytest.mark.parametrize('loss_cls', [SiameseDefocusLoss, TripletDefocusLoss])
def test_bf16_autocast_gradients_finite(loss_cls):
    pred1 = torch.rand(2, 4, 16, 16).to(torch.bfloat16).requires_grad_()
    pred2 = torch.rand(2, 4, 16, 16).to(torch.bfloat16).requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = loss_cls()(pred1, pred2)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(pred1.grad.float()).all() and torch.isfinite(pred2.grad.float()).all()
    assert pred1.grad.abs().sum() > 0


def test_registry_and_loss_name():
    loss = MODELS.build(dict(type='mmbokeh.SiameseDefocusLoss', patch_size=4, symmetric_stopgrad=True))
    assert isinstance(loss, SiameseDefocusLoss) and loss.loss_name == 'loss_defocus' and loss.symmetric_stopgrad
    triplet = MODELS.build(dict(type='mmbokeh.TripletDefocusLoss', margin=0.5, loss_name='loss_triplet'))
    assert isinstance(triplet, TripletDefocusLoss) and triplet.loss_name == 'loss_triplet' and triplet.margin == 0.5
