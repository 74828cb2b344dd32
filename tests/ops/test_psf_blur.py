"""psf_blur: C++ kernel against the reference, gradcheck, and hand-worked values of the Gur and Wolf layer."""
import math

import pytest
import torch
from torch.autograd import gradcheck

from mmbokeh.ops import psf_blur


def _sigma(shape, generator, dtype=torch.float32):
    """PSF parameters in [0, 4], kept 0.1 away from the c = 1 switch."""
    c = 4 * torch.rand(shape, generator=generator, dtype=dtype)
    return torch.where((c - 1).abs() < 0.1, c + 0.25, c)


@pytest.mark.parametrize('window', [1, 3, 7, 9])
@pytest.mark.parametrize('channels', [1, 3])
def test_cpu_forward_matches_reference(cpu_ext, window, channels):
    g = torch.Generator().manual_seed(window)
    image = torch.rand(2, channels, 17, 21, generator=g)
    sigma = _sigma((2, 1, 17, 21), g)
    ref = psf_blur(image, sigma, window, impl='reference')
    torch.testing.assert_close(psf_blur(image, sigma, window, impl='cpu'), ref, rtol=1e-4, atol=1e-4)


def test_cpu_gradients_match_reference(cpu_ext):
    g = torch.Generator().manual_seed(1)
    image = torch.rand(2, 3, 11, 12, generator=g, dtype=torch.float64)
    sigma = _sigma((2, 1, 11, 12), g, torch.float64)
    grads = []
    for impl in ('reference', 'cpu'):
        i, s = image.clone().requires_grad_(), sigma.clone().requires_grad_()
        out = psf_blur(i, s, 7, impl=impl)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
        grads.append((i.grad, s.grad))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-6, atol=1e-8)
    assert grads[0][1].abs().max() > 1e-3


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_gradcheck(cpu_ext, impl):
    g = torch.Generator().manual_seed(4)
    image = torch.rand(1, 2, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    sigma = _sigma((1, 1, 6, 7), g, torch.float64).requires_grad_()
    assert gradcheck(lambda i, s: psf_blur(i, s, 5, impl=impl), (image, sigma), eps=1e-6, atol=1e-6, rtol=1e-4)
    psf_blur(image, sigma, 5, impl=impl).pow(2).sum().backward()
    active = sigma.detach() > 1
    assert sigma.grad[active].abs().max() > 1e-3
    assert (sigma.grad[~active] == 0).all()  # radii below 1 px are constants of the layer


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_hand_worked_value(cpu_ext, impl):
    # 1x3 image, window 3. c = (2, 2, 0.5): the right pixel is in focus, copied, and skipped as a neighbour.
    image = torch.tensor([[[[1.0, 0.0, 5.0]]]], dtype=torch.float64)
    sigma = torch.tensor([[[[2.0, 2.0, 0.5]]]], dtype=torch.float64)
    out = psf_blur(image, sigma, 3, impl=impl)[0, 0, 0]
    g0, g1 = 1 / 4, math.exp(-2 * 1 / 4) / 4  # g(c=2, rho) = exp(-2 rho^2 / 4) / 4
    assert float(out[0]) == pytest.approx((g0 * 1.0 + g1 * 0.0) / (g0 + g1))
    assert float(out[1]) == pytest.approx((g1 * 1.0 + g0 * 0.0) / (g1 + g0))
    assert float(out[2]) == 5.0


def test_in_focus_pixels_are_copied_and_flat_images_stay_flat(cpu_ext):
    g = torch.Generator().manual_seed(2)
    image = torch.rand(1, 3, 9, 9, generator=g)
    assert torch.equal(psf_blur(image, torch.full((1, 1, 9, 9), 0.7), impl='cpu'), image)
    flat = torch.full((1, 3, 9, 9), 0.25)
    torch.testing.assert_close(psf_blur(flat, _sigma((1, 1, 9, 9), g), impl='cpu'), flat)
