import kornia
import pytest
import torch

from mmbokeh.models.losses import ReconstructionLoss
from mmbokeh.registry import MODELS

C1, C2 = 0.01 ** 2, 0.03 ** 2


def test_identical_images_give_zero():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 16, 16)
    assert ReconstructionLoss()(image, image.clone()).item() == pytest.approx(0.0, abs=1e-6)
    # black images too (kornia's default eps=1e-12 would leave 0.85 * 1.1e-5 / 2 here)
    black = torch.zeros(1, 3, 12, 12)
    assert ReconstructionLoss()(black, black.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_constant_images_closed_form():
    # zero-variance constants c1, c2: SSIM = (2 c1 c2 + C1) / (c1^2 + c2^2 + C1) * (0 + C2) / (0 + C2)
    # = 0.2401 / 0.4001 = 0.6000999 at every pixel: kornia's 'same' padding reflects, so borders stay constant
    # (zero padding would change them). loss = 0.85 (1 - S) / 2 + 0.15 |0.2 - 0.6| = 0.2299575
    c1, c2 = 0.2, 0.6
    ssim = (2 * c1 * c2 + C1) / (c1 ** 2 + c2 ** 2 + C1)
    expected = 0.85 * (1 - ssim) / 2 + 0.15 * abs(c1 - c2)
    assert expected == pytest.approx(0.2299575, rel=1e-6)
    pred = torch.full((2, 3, 16, 16), c1)
    target = torch.full((2, 3, 16, 16), c2)
    assert ReconstructionLoss()(pred, target).item() == pytest.approx(expected, rel=1e-5)
    assert ReconstructionLoss(loss_weight=2.0)(pred, target).item() == pytest.approx(2 * expected, rel=1e-5)
    assert ReconstructionLoss(alpha=1.0)(pred, target).item() == pytest.approx((1 - ssim) / 2, rel=1e-5)
    # smaller window, same closed form (the value is window independent for constants)
    assert ReconstructionLoss(window_size=3)(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_l1_part_and_mask_by_hand():
    pred = torch.tensor([[0.0, 0.5], [1.0, 0.25]]).view(1, 1, 2, 2).expand(1, 2, 2, 2).clone()
    pred[0, 1] += 0.25
    target = torch.zeros(1, 2, 2, 2)
    # |pred - target| channel 0 = [[0, .5], [1, .25]], channel 1 = [[.25, .75], [1.25, .5]]
    loss_fn = ReconstructionLoss(alpha=0.0, window_size=1)
    assert loss_fn(pred, target).item() == pytest.approx(4.5 / 8, rel=1e-6)
    # mask keeps pixels (0, 1) and (1, 1): (.5 + .25 + .75 + .5) / 4 = 0.5
    mask = torch.tensor([[False, True], [False, True]]).view(1, 1, 2, 2)
    assert loss_fn(pred, target, mask).item() == pytest.approx(0.5, rel=1e-6)
    # identical images under the mask: SSIM 1 and L1 0
    assert ReconstructionLoss(alpha=0.5, window_size=1)(pred, pred.clone(), mask).item() == pytest.approx(0.0, abs=1e-6)


def test_matches_eq12_with_kornia_map():
    torch.manual_seed(1)
    pred, target = torch.rand(2, 3, 12, 14), torch.rand(2, 3, 12, 14)
    mask = torch.rand(2, 1, 12, 14) > 0.5
    ssim = kornia.metrics.ssim(pred, target, 11, eps=0.0)
    pixel = 0.85 * (1 - ssim) / 2 + 0.15 * (pred - target).abs()
    expected = pixel[mask.expand_as(pixel)].mean()
    assert ReconstructionLoss()(pred, target, mask).item() == pytest.approx(expected.item(), rel=1e-5)
    assert ReconstructionLoss()(pred, target).item() == pytest.approx(pixel.mean().item(), rel=1e-5)


def test_no_valid_pixel_is_zero_and_connected():
    pred = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss = ReconstructionLoss()(pred, torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 8, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_bf16_autocast_gradients_finite():
    pred = torch.rand(2, 3, 16, 16).to(torch.bfloat16).requires_grad_()
    target = torch.rand(2, 3, 16, 16).to(torch.bfloat16)
    mask = torch.rand(2, 1, 16, 16) > 0.3
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = ReconstructionLoss()(pred, target, mask)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(pred.grad.float()).all() and pred.grad.abs().sum() > 0
    black = torch.zeros(1, 1, 8, 8, requires_grad=True)
    zero_loss = ReconstructionLoss()(black, torch.zeros(1, 1, 8, 8))
    zero_loss.backward()
    assert torch.isfinite(zero_loss) and torch.isfinite(black.grad).all()


def test_errors_and_registry():
    with pytest.raises(ValueError, match='window_size=11'):
        ReconstructionLoss()(torch.rand(1, 3, 5, 32), torch.rand(1, 3, 5, 32))
    with pytest.raises(ValueError, match='window_size'):
        ReconstructionLoss(window_size=4)
    with pytest.raises(ValueError, match='alpha'):
        ReconstructionLoss(alpha=1.5)
    with pytest.raises(ValueError, match=r'target shape \(1, 3, 8, 9\)'):
        ReconstructionLoss()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(TypeError, match='mask must be a bool'):
        ReconstructionLoss()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r'mask must be \[B, 1, H, W\] = \(1, 1, 8, 8\)'):
        ReconstructionLoss()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.ones(1, 3, 8, 8, dtype=torch.bool))
    loss = MODELS.build(dict(type='mmbokeh.ReconstructionLoss', alpha=0.8, window_size=7))
    assert isinstance(loss, ReconstructionLoss) and loss.loss_name == 'loss_recon' and loss.alpha == 0.8
