"""rasterize_gaussians_dof: C++ compositor against the dense reference, gradcheck through every parameter, and the
depth-of-field physics (CoC widening, energy kept, expected depth)."""
import math

import pytest
import torch
from torch.autograd import gradcheck

from mmbokeh.ops import rasterize_gaussians_dof


def _scene(n, generator, dtype=torch.float64):
    means = torch.randn(n, 3, generator=generator, dtype=dtype) * 0.4 + torch.tensor([0.0, 0.0, 3.0], dtype=dtype)
    scales = torch.rand(n, 3, generator=generator, dtype=dtype) * 0.08 + 0.03
    quats = torch.randn(n, 4, generator=generator, dtype=dtype)
    opac = torch.rand(n, generator=generator, dtype=dtype) * 0.8 + 0.1
    colors = torch.rand(n, 3, generator=generator, dtype=dtype)
    return [means, scales, quats, opac, colors]


def _camera(width, height, focal, dtype=torch.float64):
    K = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=dtype)
    return torch.eye(4, dtype=dtype), K


def _render(params, impl, width=40, height=32, focus=2.5, strength=6.0, **kw):
    view, K = _camera(width, height, 36.0, params[0].dtype)
    return rasterize_gaussians_dof(*params, view, K, width, height, focus, strength, impl=impl, **kw)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cpu_matches_reference_forward_and_backward(cpu_ext, dtype):
    g = torch.Generator().manual_seed(0)
    base = _scene(60, g, dtype)
    outs, grads = [], []
    for impl in ('reference', 'cpu'):
        params = [p.clone().requires_grad_() for p in base]
        focus = torch.tensor(2.5, dtype=dtype, requires_grad=True)
        strength = torch.tensor(6.0, dtype=dtype, requires_grad=True)
        color, depth, alpha = _render(params, impl, focus=focus, strength=strength,
                                      background=torch.ones(3, dtype=dtype))
        loss = (color * torch.linspace(-1, 1, color.numel(), dtype=dtype).reshape(color.shape)).sum()
        alpha_weights = torch.linspace(0, 1, alpha.numel(), dtype=dtype).view(alpha.shape)
        loss = loss + 0.3 * depth.sum() + (alpha * alpha_weights).sum()
        loss.backward()
        outs.append((color, depth, alpha))
        grads.append([p.grad for p in params] + [focus.grad, strength.grad])
    for ref, cpu in zip(*outs):
        torch.testing.assert_close(cpu, ref, rtol=1e-4, atol=1e-4)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == torch.float64 else dict(rtol=2e-3, atol=2e-3)
    for ref, cpu in zip(*grads):
        torch.testing.assert_close(cpu, ref, **tol)
        assert ref.abs().max() > 0
    assert outs[0][2].max() > 0.5  # something opaque was drawn


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_gradcheck_every_parameter(cpu_ext, impl):
    g = torch.Generator().manual_seed(3)
    params = [p.requires_grad_() for p in _scene(4, g)]
    focus = torch.tensor(2.4, dtype=torch.float64, requires_grad=True)
    strength = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)

    def fn(means, scales, quats, opac, colors, f, k):
        color, depth, alpha = _render([means, scales, quats, opac, colors], impl, 14, 12, f, k)
        return color, depth, alpha

    inputs = (*params, focus, strength)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=impl == 'reference')
    sum(o.sum() for o in fn(*inputs)).backward()
    for x in inputs:
        assert x.grad is not None and x.grad.abs().max() > 0  # every parameter, including the CoC's, gets a gradient


def _single(z, scale=0.05, opacity=0.3, dtype=torch.float64):
    return [
        torch.tensor([[0.02, -0.01, z]], dtype=dtype),
        torch.full((1, 3), scale, dtype=dtype),
        torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=dtype),
        torch.tensor([opacity], dtype=dtype),
        torch.ones(1, 1, dtype=dtype)
    ]


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_defocus_widens_the_footprint_and_keeps_its_energy(cpu_ext, impl):
    z, focus, strength, size, focal = 2.0, 1.0, 8.0, 96, 100.0
    view, K = _camera(size, size, focal)
    sharp = rasterize_gaussians_dof(*_single(z, opacity=0.9), view, K, size, size, z, strength, impl=impl)[2]
    blurred = rasterize_gaussians_dof(*_single(z, opacity=0.9), view, K, size, size, focus, strength, impl=impl)[2]
    # energy: the integral of alpha = 2 pi o sqrt(det S) is unchanged by the widening (o = 0.9 stays below the 0.99
    # clamp; the 1/255 cut-off drops a fraction (1/255) / o of it, 0.4 % sharp and 0.8 % blurred)
    assert float(blurred.sum()) == pytest.approx(float(sharp.sum()), rel=0.01)
    assert float(blurred.max()) < 0.6 * float(sharp.max())
    # footprint: the per-axis variance grows from S = (f s / z)^2 + eps2d = 2.5^2 + 0.3 by a = coc^2 / (2 ln 4), with
    # coc = K |1/z - 1/s| = 8 * 0.5 = 4 px, and the peak opacity falls to o S / (S + a)

    def variance(alpha):
        xs = torch.arange(size, dtype=alpha.dtype) + 0.5
        w = alpha.sum(0)
        mean = (w * xs).sum() / w.sum()
        return float((w * (xs - mean)**2).sum() / w.sum())

    def truncated(var, peak):  # an isotropic 2D gaussian cut where it falls below 1/255: u = rho^2 / 2var < U
        u_max = math.log(255 * peak)
        return var * (1 - (u_max + 1) * math.exp(-u_max)) / (1 - math.exp(-u_max))

    s_sharp = (focal * 0.05 / z)**2 + 0.3
    a = (strength * abs(1 / z - 1 / focus))**2 / (2 * math.log(4))
    assert variance(sharp) == pytest.approx(truncated(s_sharp, 0.9), rel=0.01)
    assert variance(blurred) == pytest.approx(truncated(s_sharp + a, 0.9 * s_sharp / (s_sharp + a)), rel=0.01)
    assert float(blurred.max()) == pytest.approx(0.9 * s_sharp / (s_sharp + a), rel=0.02)


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_focus_plane_matches_pinhole_and_depth_is_expected_z(cpu_ext, impl):
    params = _single(2.0, scale=0.1, opacity=0.9)
    in_focus = _render(params, impl, focus=2.0, strength=50.0)
    pinhole = _render(params, impl, focus=7.0, strength=0.0)
    for a, b in zip(in_focus, pinhole):
        torch.testing.assert_close(a, b)
    color, depth, alpha = in_focus
    drawn = alpha > 0
    assert drawn.sum() > 10
    torch.testing.assert_close(depth[drawn], torch.full_like(depth[drawn], 2.0))
    assert (depth[~drawn] == 0).all()


def test_expected_depth_of_two_layers_by_hand(cpu_ext):
    # two large flat Gaussians, front one at z=2 (opacity 0.5) over back one at z=4 (opacity 0.5): at their common
    # centre w_front = 0.5, w_back = 0.5 * 0.5 -> depth = (2 * 0.5 + 4 * 0.25) / 0.75 = 8/3, alpha = 0.75
    dtype = torch.float64
    params = [
        torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]], dtype=dtype),
        torch.tensor([[2.0, 2.0, 0.01], [4.0, 4.0, 0.01]], dtype=dtype),
        torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]], dtype=dtype),
        torch.tensor([0.5, 0.5], dtype=dtype),
        torch.tensor([[1.0], [0.0]], dtype=dtype)
    ]
    for impl in ('reference', 'cpu'):
        color, depth, alpha = _render(params, impl, width=20, height=20, strength=0.0)
        assert float(alpha[10, 10]) == pytest.approx(0.75, abs=1e-3)
        assert float(depth[10, 10]) == pytest.approx(8 / 3, abs=1e-3)
        assert float(color[10, 10, 0]) == pytest.approx(0.5, abs=1e-3)


def test_gaussians_behind_the_camera_are_dropped(cpu_ext):
    params = _single(-2.0, opacity=0.9)
    for impl in ('reference', 'cpu'):
        color, depth, alpha = _render(params, impl, background=torch.tensor([0.25], dtype=torch.float64))
        assert (alpha == 0).all() and (depth == 0).all() and (color == 0.25).all()


def _thin_lens_coc(means, focus, strength):
    # camera = world in these tests (viewmat = identity), so the camera depth is means[:, 2]
    return strength * (1 / means[:, 2] - 1 / focus).abs()


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_coc_px_equal_to_the_thin_lens_gives_the_same_rendering(cpu_ext, impl):
    g = torch.Generator().manual_seed(5)
    base = _scene(60, g)
    outs, grads = [], []
    for per_gaussian in (False, True):
        params = [p.clone().requires_grad_() for p in base]
        view, K = _camera(40, 32, 36.0)
        if per_gaussian:  # CoC computed outside the op, differentiably from the means: same values, same chain
            out = rasterize_gaussians_dof(*params, view, K, 40, 32, None, None, impl=impl,
                                          coc_px=_thin_lens_coc(params[0], 2.5, 6.0))
        else:
            out = rasterize_gaussians_dof(*params, view, K, 40, 32, 2.5, 6.0, impl=impl)
        weights = [torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view(o.shape) for o in out]
        sum((o * w).sum() for o, w in zip(out, weights)).backward()
        outs.append(out)
        grads.append([p.grad for p in params])
    assert float(outs[0][2].detach().max()) > 0.5
    for a, b in zip(*outs):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_gradcheck_coc_px(cpu_ext, impl):
    g = torch.Generator().manual_seed(3)
    params = _scene(4, g)
    view, K = _camera(12, 10, 36.0)
    coc = torch.tensor([0.7, 1.6, 2.3, 3.1], dtype=torch.float64, requires_grad=True)

    def fn(c):
        return rasterize_gaussians_dof(*params, view, K, 12, 10, None, None, impl=impl, coc_px=c)

    assert gradcheck(fn, (coc, ), eps=1e-6, atol=1e-6, rtol=1e-4)
    sum(o.sum() for o in fn(coc)).backward()
    assert (coc.grad.abs() > 0).all()  # every Gaussian's CoC moves the image


def test_coc_px_validation():
    params = _single(2.0)
    view, K = _camera(16, 16, 20.0)
    bad = {
        'wrong shape': torch.zeros(2, dtype=torch.float64),
        'negative': torch.tensor([-0.5], dtype=torch.float64),
        'NaN': torch.tensor([float('nan')], dtype=torch.float64),
        'inf': torch.tensor([float('inf')], dtype=torch.float64),
    }
    for coc in bad.values():
        with pytest.raises(ValueError, match='coc_px'):
            rasterize_gaussians_dof(*params, view, K, 16, 16, 1.0, 2.0, impl='reference', coc_px=coc)
    # focus_dist / coc_strength may be None only with coc_px, and given values are still validated
    with pytest.raises(TypeError, match='focus_dist'):
        rasterize_gaussians_dof(*params, view, K, 16, 16, None, 2.0, impl='reference')
    with pytest.raises(ValueError, match='coc_strength'):
        rasterize_gaussians_dof(*params, view, K, 16, 16, None, -1.0, impl='reference',
                                coc_px=torch.zeros(1, dtype=torch.float64))
