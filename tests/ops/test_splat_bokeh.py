"""splat_bokeh: C++ kernel against the PyTorch reference, gradcheck, and the physics of the rendered bokeh."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from mmbokeh.ops import splat_bokeh
from mmbokeh.ops.reference import splat_bokeh_reference

MODES = [('soft_disc', False), ('soft_disc', True), ('soft_disc', 'layered'), ('gaussian', False), ('gaussian', True),
         ('gaussian', 'layered')]


def _defocus(shape, max_r, generator, dtype=torch.float32):
    """Signed radii whose fractional part stays in [0.2, 0.8] (the windows jump at integer radii)."""
    whole = torch.randint(0, int(max_r), shape, generator=generator).to(dtype)
    frac = 0.2 + 0.6 * torch.rand(shape, generator=generator, dtype=dtype)
    sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0).to(dtype)
    return sign * (whole + frac)


def _grads(image, defocus, impl, **kw):
    image = image.clone().requires_grad_()
    defocus = defocus.clone().requires_grad_()
    out = splat_bokeh(image, defocus, impl=impl, **kw)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    return out.detach(), image.grad, defocus.grad


@pytest.mark.parametrize('kernel, occlusion', MODES)
@pytest.mark.parametrize('channels, max_r', [(1, 9), (3, 9), (4, 9), (3, 2)])  # max_r 2: no disc has a core span
def test_cpu_forward_matches_reference(cpu_ext, kernel, occlusion, channels, max_r):
    g = torch.Generator().manual_seed(channels)
    image = torch.rand(2, channels, 23, 29, generator=g)
    defocus = _defocus((2, 1, 23, 29), max_r, g)
    ref = splat_bokeh(image, defocus, kernel, occlusion, impl='reference')
    cpu = splat_bokeh(image, defocus, kernel, occlusion, impl='cpu')
    torch.testing.assert_close(cpu, ref, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(cpu, image, atol=1e-2)  # it did blur


@pytest.mark.parametrize('kernel, occlusion', MODES)
def test_cpu_gradients_match_reference(cpu_ext, kernel, occlusion):
    g = torch.Generator().manual_seed(7)
    image = torch.rand(1, 3, 14, 17, generator=g, dtype=torch.float64)
    defocus = _defocus((1, 1, 14, 17), 6, g, torch.float64)
    out_r, gi_r, gd_r = _grads(image, defocus, 'reference', kernel=kernel, occlusion=occlusion)
    out_c, gi_c, gd_c = _grads(image, defocus, 'cpu', kernel=kernel, occlusion=occlusion)
    torch.testing.assert_close(out_c, out_r, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gi_c, gi_r, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gd_c, gd_r, rtol=1e-4, atol=1e-5)
    assert gd_r.abs().max() > 1e-3 and gi_r.abs().max() > 1e-3


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
@pytest.mark.parametrize('kernel, occlusion', MODES)
def test_gradcheck(cpu_ext, impl, kernel, occlusion):
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 2, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    defocus = _defocus((1, 1, 5, 6), 3, g, torch.float64).requires_grad_()

    def fn(i, d):
        return splat_bokeh(i, d, kernel, occlusion, impl=impl)

    # full Jacobians for the hand-written backward; a random projection for the (autograd) reference
    assert gradcheck(fn, (image, defocus), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=impl == 'reference')
    fn(image, defocus).pow(2).sum().backward()
    assert image.grad.abs().max() > 1e-3 and defocus.grad.abs().max() > 1e-3  # not passing trivially


def _point_image(size, radius, dtype=torch.float64):
    image = torch.zeros(1, 1, size, size, dtype=dtype)
    image[0, 0, size // 2, size // 2] = 1.0
    return image, torch.full((1, 1, size, size), radius, dtype=dtype)


@pytest.mark.parametrize('radius', [3.4, 7.5, 12.7])
def test_point_renders_as_disc_of_requested_radius(cpu_ext, radius):
    image, defocus = _point_image(64, radius)
    out = splat_bokeh(image, defocus, impl='cpu')[0, 0]
    ys, xs = torch.meshgrid(torch.arange(64.0, dtype=out.dtype), torch.arange(64.0, dtype=out.dtype), indexing='ij')
    rho2 = (ys - 32)**2 + (xs - 32)**2
    area_radius = math.sqrt(float((out > 0.5 * out.max()).sum()) / math.pi)  # half-maximum footprint
    moment_radius = math.sqrt(2 * float((out * rho2).sum() / out.sum()))  # uniform disc: E[rho^2] = r^2 / 2
    assert abs(area_radius - radius) < 0.5
    assert abs(moment_radius - radius) < 0.5
    assert float(out[32, 32 + int(radius) + 2]) < 1e-6 * float(out.max())  # nothing beyond the disc


@pytest.mark.parametrize('kernel', ['soft_disc', 'gaussian'])
def test_energy_is_kept_under_uniform_defocus(cpu_ext, kernel):
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 3, 80, 80, dtype=torch.float64)
    image[:, :, 30:50, 30:50] = torch.rand(1, 3, 20, 20, generator=g, dtype=torch.float64)
    defocus = torch.full((1, 1, 80, 80), -9.3, dtype=torch.float64)
    out = splat_bokeh(image, defocus, kernel, impl='cpu')
    torch.testing.assert_close(out.sum(dim=(2, 3)), image.sum(dim=(2, 3)), rtol=0.01, atol=0)
    assert (out[:, :, 30:50, 30:50] - image[:, :, 30:50, 30:50]).abs().max() > 0.05  # it moved energy around


@pytest.mark.parametrize('occlusion', [True, 'layered'])
@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_occlusion_keeps_a_sharp_foreground_sharp(cpu_ext, impl, occlusion):
    size, lo, hi = 44, 14, 30
    image = 0.3 * torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(2))  # dark textured background
    image[..., lo:hi, lo:hi] = 1.0  # white foreground square
    defocus = torch.full((1, 1, size, size), -8.5)  # background far behind the focus plane
    defocus[..., lo:hi, lo:hi] = 0.0  # in-focus foreground
    rim = (slice(None), slice(None), slice(lo, hi), slice(lo, lo + 2))  # two columns inside the left edge
    with_occlusion = splat_bokeh(image, defocus, occlusion=occlusion, impl=impl)
    without = splat_bokeh(image, defocus, occlusion=False, impl=impl)
    assert (with_occlusion[rim] - 1.0).abs().max() < 0.01
    assert (without[rim] - 1.0).abs().max() > 0.2  # the plain scatter lets the background bleed in
    far = (slice(None), slice(None), slice(0, 3), slice(None))  # background rows > 10 px from the square
    torch.testing.assert_close(with_occlusion[far], without[far], rtol=1e-3, atol=1e-3)
    assert (with_occlusion[far] - image[far]).abs().max() > 0.05  # and the background is still blurred


def test_in_focus_image_is_nearly_unchanged(cpu_ext):
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    out = splat_bokeh(image, torch.zeros(1, 1, 16, 16), impl='cpu')
    assert (out - image).abs().max() < 0.01  # BokehMe's r = 0 disc leaks < 0.07 % to each neighbour


def test_batch_items_are_independent(cpu_ext):
    g = torch.Generator().manual_seed(5)
    image = torch.rand(3, 3, 12, 13, generator=g)
    defocus = _defocus((3, 1, 12, 13), 5, g)
    whole = splat_bokeh(image, defocus, impl='cpu')
    for b in range(3):
        torch.testing.assert_close(whole[b:b + 1], splat_bokeh(image[b:b + 1], defocus[b:b + 1], impl='cpu'))


def test_reference_reproduces_bokehme_weights_by_hand():
    # 1x3 image, radius 0.5 everywhere: window floor(0.5)+1 = 1, w(rho) = (0.5 + 0.5 tanh(4 (0.5 - rho))) / 0.45
    image = torch.tensor([[[[1.0, 0.0, 0.0]]]], dtype=torch.float64)
    out = splat_bokeh_reference(image, torch.full((1, 1, 1, 3), 0.5, dtype=torch.float64))
    w0, w1 = 0.5 + 0.5 * math.tanh(2.0), 0.5 + 0.5 * math.tanh(-2.0)  # the 1/0.45 cancels
    assert float(out[0, 0, 0, 0]) == pytest.approx(w0 / (w0 + w1))
    assert float(out[0, 0, 0, 1]) == pytest.approx(w1 / (w0 + 2 * w1))
    assert float(out[0, 0, 0, 2]) == pytest.approx(0.0)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('kernel', ['soft_disc', 'gaussian'])
def test_reference_window_is_limited_to_the_image(kernel):
    """Radii far beyond the image (the documented maximum is 1024 px) cost no more than the image's own size, and
    every pixel then receives every source with one weight, so each output is the image mean (closed form)."""
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 4, 5, generator=gen, dtype=torch.float64)
    out = splat_bokeh_reference(image, torch.full((1, 1, 4, 5), 1024.0, dtype=torch.float64), kernel=kernel)
    mean = image.mean(dim=(2, 3), keepdim=True).expand_as(out)
    torch.testing.assert_close(out, mean, rtol=0, atol=1e-5)  # gaussian: exp(-rho^2 / 2v) = 1 - 5e-5 at rho = 5
    point = splat_bokeh_reference(torch.ones(1, 1, 1, 1), torch.full((1, 1, 1, 1), 1024.0))
    assert torch.equal(point, torch.ones(1, 1, 1, 1))


def _room(h=72, w=96, max_r=12.0, seed=0):
    """A textured scene with a sloping floor, two side walls at mirrored depths and a near box: signed defocus
    from about -max_r (far) to +max_r / 3 (near), smooth in places and with depth edges elsewhere."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(-1, 1, w), indexing='ij')
    disparity = 0.25 + 0.75 * torch.maximum(ys, xs.abs())  # floor and walls: nearer towards the bottom and the sides
    disparity[h // 4:h // 2, w // 3:w // 2] = 1.3  # a box in front
    defocus = (disparity - 0.9) / 0.7 * max_r
    image = torch.rand(1, 3, h, w, generator=g)
    image = 0.5 * image + 0.5 * torch.nn.functional.avg_pool2d(image, 5, 1, 2)  # texture at several scales
    return image, defocus.clamp(-max_r, max_r / 3)[None, None].contiguous()


def _blocks(h=72, w=96, seed=0):
    """A random full-contrast image over blocks of random depth (defocus within +-12 px) plus a gentle ramp."""
    g = torch.Generator().manual_seed(seed)
    d = F.interpolate(torch.randn(1, 1, 6, 8, generator=g) * 5, size=(h, w), mode='nearest')
    d = d + F.interpolate(torch.randn(1, 1, 12, 16, generator=g), size=(h, w), mode='bilinear')
    return torch.rand(1, 3, h, w, generator=g), d.clamp(-12, 12).contiguous()


@pytest.mark.parametrize('scene', ['room', 'blocks'])
@pytest.mark.parametrize('kernel', ['soft_disc', 'gaussian'])
def test_layered_occlusion_error_is_bounded_against_the_exact_gate(cpu_ext, kernel, scene):
    """The layered gate uses the centre of the source's defocus layer (h = 0.25 px by default): each pair's gate is
    within a factor exp(+-2h) of the exact one, hence |layered - exact| <= tanh(h) (max I - min I) everywhere (see
    ``splat_bokeh``'s docstring). Measured: far below that, a small part of what occlusion changes, shrinking with h."""
    image, defocus = _room() if scene == 'room' else _blocks()
    exact = splat_bokeh(image, defocus, kernel, 'exact', impl='cpu')
    effect = (splat_bokeh(image, defocus, kernel, False, impl='cpu') - exact).abs()
    errors = {}
    for h in (0.25, 0.0625):
        layered = splat_bokeh(image, defocus, kernel, 'layered', impl='cpu', layer_width=h)
        errors[h] = (layered - exact).abs()
        assert float(errors[h].max()) <= math.tanh(h) * float(image.max() - image.min())
    assert float(errors[0.25].max()) < 0.02 and float(errors[0.25].mean()) < 1e-3
    assert float(errors[0.25].max()) < 0.1 * float(effect.max())  # keeps > 90 % of the occlusion effect
    assert float(errors[0.25].mean()) < 0.2 * float(effect.mean())
    assert float(errors[0.0625].max()) < 0.5 * float(errors[0.25].max())  # converges to the exact gate


def test_layered_occlusion_on_uniform_layers_equals_the_exact_gate(cpu_ext):
    """Sources whose defocus sits at their layer's centre are gated exactly as in the exact mode."""
    g = torch.Generator().manual_seed(4)
    image = torch.rand(1, 3, 30, 34, generator=g, dtype=torch.float64)
    layer = torch.randint(-20, 8, (1, 1, 30, 34), generator=g).to(torch.float64)
    defocus = (layer + 0.5) * 0.5
    exact = splat_bokeh(image, defocus, occlusion='exact', impl='cpu')
    layered = splat_bokeh(image, defocus, occlusion='layered', impl='cpu', layer_width=0.5)
    torch.testing.assert_close(layered, exact, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_occlusion_and_layer_width_are_validated(cpu_ext, impl):
    image, defocus = torch.rand(1, 3, 5, 5), torch.ones(1, 1, 5, 5)
    with pytest.raises(ValueError, match='occlusion'):
        splat_bokeh(image, defocus, occlusion='layers', impl=impl)
    with pytest.raises(TypeError, match='occlusion'):
        splat_bokeh(image, defocus, occlusion=1, impl=impl)
    for bad in (0.0, 1e-3, float('nan'), 2048.0):
        with pytest.raises(ValueError, match='layer_width'):
            splat_bokeh(image, defocus, occlusion='layered', layer_width=bad, impl=impl)
    with pytest.raises(TypeError, match='layer_width'):
        splat_bokeh(image, defocus, occlusion='layered', layer_width='0.25', impl=impl)
    assert torch.equal(splat_bokeh(image, defocus, occlusion='none', impl=impl),
                       splat_bokeh(image, defocus, occlusion=False, impl=impl))
    assert torch.equal(splat_bokeh(image, defocus, occlusion='exact', impl=impl),
                       splat_bokeh(image, defocus, occlusion=True, impl=impl))


def test_layered_kernel_checks_its_layer_tensor(cpu_ext):
    image, defocus = torch.rand(1, 3, 5, 5), torch.ones(1, 1, 5, 5)
    with pytest.raises(RuntimeError, match='int32'):
        cpu_ext.splat_bokeh_layered_forward(image, defocus, torch.zeros(1, 1, 5, 5), 0, 0.25, 1.0, 4.0)
    with pytest.raises(RuntimeError, match='shape'):
        cpu_ext.splat_bokeh_layered_forward(image, defocus, torch.zeros(1, 1, 5, 4, dtype=torch.int32), 0, 0.25, 1.0,
                                            4.0)


def test_layered_batch_items_are_independent_and_large_radii_work(cpu_ext):
    """Images run on their own threads; radii larger than the image and several layers per row are handled."""
    g = torch.Generator().manual_seed(6)
    image = torch.rand(3, 3, 19, 41, generator=g)
    defocus = _defocus((3, 1, 19, 41), 30, g)
    whole = splat_bokeh(image, defocus, occlusion='layered', impl='cpu')
    for b in range(3):
        part = splat_bokeh(image[b:b + 1], defocus[b:b + 1], occlusion='layered', impl='cpu')
        torch.testing.assert_close(whole[b:b + 1], part)
    ref = splat_bokeh(image[:1], defocus[:1], occlusion='layered', impl='reference')
    torch.testing.assert_close(whole[:1], ref, rtol=1e-4, atol=1e-4)
