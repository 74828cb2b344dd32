import math

import pytest
import torch

from mmbokeh.models.losses import BlurLoss
from mmbokeh.models.losses.blur_loss import log_kernel
from mmbokeh.registry import MODELS

# sigma = 1: K(x, y) = (1 - r^2 / 2) exp(-r^2 / 2) / pi
CENTRE = 1 / math.pi  # 0.3183099
EDGE = math.exp(-0.5) / (2 * math.pi)  # r^2 = 1: 0.0965324; r^2 = 2 (corners): 0


def test_kernel_values():
    k3 = log_kernel(3, 1.0)[0, 0]
    expected = torch.tensor([[0.0, EDGE, 0.0], [EDGE, CENTRE, EDGE], [0.0, EDGE, 0.0]])
    torch.testing.assert_close(k3, expected)
    k7 = log_kernel(7, 1.0)[0, 0]
    assert k7.shape == (7, 7) and k7[3, 3].item() == pytest.approx(CENTRE)
    # r^2 = 9 at (0, +-3): (1 - 4.5) exp(-4.5) / pi, negative; not zero-mean corrected
    assert k7[0, 3].item() == pytest.approx(-3.5 * math.exp(-4.5) / math.pi)
    assert abs(k7.sum().item()) > 1e-3


def test_unit_impulse_energy_is_sum_of_squared_kernel():
    # 7x7 image, impulse at the centre: the 7x7 LoG response is the whole kernel, sum lap^2 = sum K^2 = 0.1607877
    sum_k2 = sum(((1 - (x * x + y * y) / 2) * math.exp(-(x * x + y * y) / 2) / math.pi) ** 2
                 for x in range(-3, 4) for y in range(-3, 4))
    assert sum_k2 == pytest.approx(0.1607877, rel=1e-6)
    image = torch.zeros(1, 1, 7, 7)
    image[0, 0, 3, 3] = 1.0
    # denominator M - mu^2 = 49 - (1/49)^2; loss = -0.01 log(0.1607877 / 48.99958 + 1e-8) = 0.0571948
    expected = -0.01 * math.log(sum_k2 / (49 - (1 / 49) ** 2) + 1e-8)
    assert BlurLoss()(image).item() == pytest.approx(expected, rel=1e-5)
    assert BlurLoss(beta=1.0)(image).item() == pytest.approx(100 * expected, rel=1e-5)


def test_constant_image_zero_padding_border():
    # 4x4 constant c = 0.5, window 3: interior c (CENTRE + 4 EDGE), border rows/columns c (CENTRE + 3 EDGE),
    # corners c (CENTRE + 2 EDGE) (zero padding removes the outside neighbours; the kernel's corner taps are 0)
    c = 0.5
    loss_fn = BlurLoss(window=3)
    lap = loss_fn.laplacian(torch.full((1, 1, 4, 4), c))[0, 0]
    inner, side, corner = c * (CENTRE + 4 * EDGE), c * (CENTRE + 3 * EDGE), c * (CENTRE + 2 * EDGE)
    expected = torch.tensor([[corner, side, side, corner],
                             [side, inner, inner, side],
                             [side, inner, inner, side],
                             [corner, side, side, corner]])
    torch.testing.assert_close(lap, expected)
    energy = 4 * corner ** 2 + 8 * side ** 2 + 4 * inner ** 2  # 1.4968404
    expected_loss = -0.01 * math.log(energy / (16 - c * c) + 1e-8)  # 0.0235348
    assert loss_fn(torch.full((1, 1, 4, 4), c)).item() == pytest.approx(expected_loss, rel=1e-5)
    # RGB: grey is the channel mean, (0 + 0.5 + 1) / 3 = 0.5, same loss
    rgb = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert loss_fn(rgb).item() == pytest.approx(expected_loss, rel=1e-5)


def test_batch_mean_and_zero_image():
    # all-zero image: -log(0 + 1e-8) = 18.420681, times beta
    zero = torch.zeros(1, 3, 5, 5)
    assert BlurLoss()(zero).item() == pytest.approx(0.01 * -math.log(1e-8), rel=1e-6)
    const = torch.full((1, 1, 4, 4), 0.5)
    both = torch.cat([torch.zeros(1, 1, 4, 4), const])
    expected = (BlurLoss(window=3)(torch.zeros(1, 1, 4, 4)).item() + BlurLoss(window=3)(const).item()) / 2
    assert BlurLoss(window=3)(both).item() == pytest.approx(expected, rel=1e-6)
    # single white pixel: M - mu^2 = 0 is floored, the loss stays finite
    assert torch.isfinite(BlurLoss()(torch.ones(1, 1, 1, 1)))


def test_sharper_image_has_lower_loss():
    torch.manual_seed(0)
    sharp = torch.rand(1, 1, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, stride=1, padding=2, count_include_pad=False)
    assert BlurLoss()(sharp) < BlurLoss()(blurred)


def test_bf16_autocast_gradients_finite():
    image = torch.rand(2, 3, 16, 16).to(torch.bfloat16).requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = BlurLoss()(image)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(image.grad.float()).all() and image.grad.abs().sum() > 0


def test_errors_and_registry():
    for window in (2, 1, 6):
        with pytest.raises(ValueError, match='window'):
            BlurLoss(window=window)
    with pytest.raises(ValueError, match=r'image must be \[B, C, H, W\]'):
        BlurLoss()(torch.rand(3, 8, 8))
    loss = MODELS.build(dict(type='mmbokeh.BlurLoss', beta=0.1, window=5))
    assert isinstance(loss, BlurLoss) and loss.loss_name == 'loss_blur' and loss.kernel.shape == (1, 1, 5, 5)
    assert 'kernel' not in loss.state_dict()
