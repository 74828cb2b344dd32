"""SDNet's Gaussian-splat branch: Gaussians from a depth map, CoC-map rendering and the registered renderer."""
import math

import pytest
import torch
from torch.autograd import gradcheck

from mmbokeh.models.gaussian_dof import (
    GaussianDoFRenderer,
    GaussianParams,
    gaussians_from_depth,
    intrinsics_from_camera,
    render_dof,
    sample_coc_map,
)
from mmbokeh.registry import MODELS

F64 = torch.float64


def _eye(dtype=F64):
    return torch.eye(4, dtype=dtype)


def test_intrinsics_from_camera_uses_the_ops_pixel_centre_convention():
    K = intrinsics_from_camera(0.05, 1e-5, 640, 480, dtype=F64)
    torch.testing.assert_close(K, torch.tensor([[5000.0, 0, 320], [0, 5000.0, 240], [0, 0, 1]], dtype=F64))
    with pytest.raises(ValueError, match='pixel_size'):
        intrinsics_from_camera(0.05, 0.0, 64, 64)
    with pytest.raises(ValueError, match='width'):
        intrinsics_from_camera(0.05, 1e-5, 0, 64)


@pytest.mark.parametrize('stride', [1, 2, 3])
def test_gaussians_from_depth_reproject_onto_their_pixel_centres(stride):
    h, w = 11, 13
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, h, w, generator=g, dtype=F64)
    depth = 0.5 + 3 * torch.rand(1, h, w, generator=g, dtype=F64)
    start = (stride - 1) // 2
    bad = [(start, start, 0.0), (start + stride, start, -1.0), (start, start + stride, float('nan')),
           (start + stride, start + stride, float('inf'))]
    for y, x, v in bad:
        depth[0, y, x] = v
    K = torch.tensor([[20.0, 0, 6.3], [0, 22.0, 5.1], [0, 0, 1]], dtype=F64)
    p = gaussians_from_depth(image, depth, K, stride=stride, scale_mult=0.7)
    ys = torch.arange(start, h, stride)
    xs = torch.arange(start, w, stride)
    yy, xx = torch.meshgrid(ys, xs, indexing='ij')
    z = depth[0, yy, xx].reshape(-1)
    valid = torch.isfinite(z) & (z > 0)
    assert len(p) == int(valid.sum()) == ys.numel() * xs.numel() - 4  # the four bad depths were dropped
    u = K[0, 0] * p.means3d[:, 0] / p.means3d[:, 2] + K[0, 2]
    v = K[1, 1] * p.means3d[:, 1] / p.means3d[:, 2] + K[1, 2]
    torch.testing.assert_close(u, xx.reshape(-1)[valid].to(F64) + 0.5)
    torch.testing.assert_close(v, yy.reshape(-1)[valid].to(F64) + 0.5)
    torch.testing.assert_close(p.means3d[:, 2], z[valid])
    torch.testing.assert_close(p.colors, image[:, yy, xx].reshape(3, -1)[:, valid].T)
    torch.testing.assert_close(p.scales, (z[valid] * stride / 20.0 * 0.7).unsqueeze(-1).expand(-1, 3))
    assert (p.opacities == 0.95).all() and (p.quats == torch.tensor([1.0, 0, 0, 0], dtype=F64)).all()


def test_sample_coc_map_is_bilinear_in_pixel_centre_coordinates():
    # a map linear in the pixel-centre coordinates, c(x, y) = 0.3 (x + 0.5) + 0.2 (y + 0.5) + 1, is reproduced
    # exactly by bilinear sampling anywhere between the outer pixel centres (align_corners=False convention)
    h, w = 9, 12
    ys, xs = torch.meshgrid(torch.arange(h, dtype=F64) + 0.5, torch.arange(w, dtype=F64) + 0.5, indexing='ij')
    coc_map = (0.3 * xs + 0.2 * ys + 1)[None]
    K = torch.tensor([[10.0, 0, w / 2], [0, 10.0, h / 2], [0, 0, 1]], dtype=F64)
    g = torch.Generator().manual_seed(1)
    u = 0.5 + (w - 1) * torch.rand(20, generator=g, dtype=F64)
    v = 0.5 + (h - 1) * torch.rand(20, generator=g, dtype=F64)
    z = 1 + torch.rand(20, generator=g, dtype=F64)
    means = torch.stack([(u - w / 2) * z / 10, (v - h / 2) * z / 10, z], -1)
    torch.testing.assert_close(sample_coc_map(coc_map, means, _eye(), K), 0.3 * u + 0.2 * v + 1)


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_plane_at_focus_renders_back_the_image(cpu_ext, impl):
    n, z = 20, 2.0
    g = torch.Generator().manual_seed(2)
    image = torch.rand(3, n, n, generator=g, dtype=F64)
    K = intrinsics_from_camera(0.04, 1e-3, n, n, dtype=F64)
    depth = torch.full((1, n, n), z, dtype=F64)
    # sharp footprints (0.1 px + eps2d 0.05 px^2): a neighbour's alpha at 1 px is 2.4e-4 < 1/255, so every pixel
    # sees only its own Gaussian, clamped at alpha 0.99: colour = 0.99 * image up to rounding
    sharp = gaussians_from_depth(image, depth, K, opacity=1.0, scale_mult=0.1)
    color, d, alpha = render_dof(sharp, _eye(), K, n, n, coc_map=torch.zeros(1, n, n, dtype=F64), impl=impl,
                                 eps2d=0.05)
    torch.testing.assert_close(color, 0.99 * image, rtol=0, atol=1e-12)
    torch.testing.assert_close(alpha, torch.full_like(alpha, 0.99), rtol=0, atol=1e-12)
    torch.testing.assert_close(d, depth, rtol=0, atol=1e-12)
    # default footprints (0.5 px, eps2d 0.3: variance 0.55 px^2) cover the plane (alpha > 0.99 inside) but low-pass
    # the texture: on a smooth texture (bilinear 5x5 noise) the error is 0.046 mean, 0.14 max
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 5, 5, generator=g, dtype=F64), size=(n, n),
                                             mode='bilinear', align_corners=False)[0]
    color, d, alpha = render_dof(gaussians_from_depth(smooth, depth, K), _eye(), K, n, n, impl=impl)
    inner = (slice(None), slice(2, -2), slice(2, -2))
    assert float(alpha[inner].min()) > 0.99
    err = (color - smooth)[inner].abs()
    print(f'plane at focus, default footprint: mean |err| {float(err.mean()):.4f}, max {float(err.max()):.4f}')
    assert float(err.mean()) < 0.06 and float(err.max()) < 0.2


def _two_layer_scene(n, dtype=F64, jitter=0.0):
    g = torch.Generator().manual_seed(3)
    image = torch.rand(3, n, n, generator=g, dtype=dtype)
    depth = torch.full((1, n, n), 3.0, dtype=dtype)
    depth[:, n // 4:3 * n // 4, n // 3:] = 1.2
    K = intrinsics_from_camera(0.03, 1e-3, n, n, dtype=dtype)
    p = gaussians_from_depth(image, depth, K)
    if jitter:  # move the centres off the pixel centres so that bilinear sampling mixes four texels
        p.means3d = p.means3d + jitter * torch.randn(p.means3d.shape, generator=g, dtype=dtype) * \
            torch.tensor([1.0, 1.0, 0.0], dtype=dtype) * p.means3d[:, 2:] / K[0, 0]
    return p, K


@pytest.mark.parametrize('impl', ['reference', 'cpu'])
def test_coc_map_gradients_match_finite_differences(cpu_ext, impl):
    n = 8
    p, K = _two_layer_scene(n, jitter=0.3)
    g = torch.Generator().manual_seed(4)
    coc_map = (0.3 + 2.5 * torch.rand(1, n, n, generator=g, dtype=F64)).requires_grad_()
    bg = torch.tensor([0.2, 0.5, 0.9], dtype=F64)

    def fn(c):
        return render_dof(p, _eye(), K, n, n, coc_map=c, background=bg, impl=impl)

    assert gradcheck(fn, (coc_map, ), eps=1e-6, atol=1e-6, rtol=1e-4)
    color, depth, alpha = fn(coc_map)
    (color.sum() + depth.sum() + alpha.sum()).backward()
    assert float((coc_map.grad != 0).float().mean()) > 0.9  # nearly every texel drives some Gaussian


def test_coc_map_and_coc_px_agree_and_validation(cpu_ext):
    n = 12
    p, K = _two_layer_scene(n)
    by_map = render_dof(p, _eye(), K, n, n, coc_map=torch.full((1, n, n), 1.7, dtype=F64), impl='cpu')
    by_px = render_dof(p, _eye(), K, n, n, coc_px=torch.full((len(p), ), 1.7, dtype=F64), impl='cpu')
    for a, b in zip(by_map, by_px):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    pinhole = render_dof(p, _eye(), K, n, n, impl='cpu')
    assert float((pinhole[0] - by_map[0]).abs().max()) > 0.05  # the CoC changed the image
    with pytest.raises(ValueError, match='not both'):
        render_dof(p, _eye(), K, n, n, coc_map=torch.zeros(1, n, n, dtype=F64), coc_px=torch.zeros(len(p)))
    with pytest.raises(ValueError, match='coc_map'):
        render_dof(p, _eye(), K, n, n, coc_map=-torch.ones(1, n, n, dtype=F64))
    with pytest.raises(ValueError, match='coc_map'):
        render_dof(p, _eye(), K, n, n, coc_map=torch.zeros(1, n + 1, n, dtype=F64))
    with pytest.raises(ValueError, match='coc_px'):
        render_dof(p, _eye(), K, n, n, coc_px=torch.full((len(p), ), float('nan'), dtype=F64))


def test_defocus_blurs_the_plane_by_the_expected_variance(cpu_ext):
    # a bright column on a plane at coc = 4 px: its horizontal profile (normalised by coverage) has about the per-axis
    # variance of one widened Gaussian, S + a with S = 0.5^2 + eps2d = 0.55 px^2 and a = coc^2 / (2 ln 4), cut where
    # its alpha falls below 1/255 (peak o S / (S + a)); compositing the overlapping splats moves it by ~5 %
    n, z, coc = 40, 2.0, 4.0
    image = torch.zeros(1, n, n, dtype=F64)
    image[:, :, n // 2] = 1
    K = intrinsics_from_camera(0.04, 1e-3, n, n, dtype=F64)
    p = gaussians_from_depth(image, torch.full((1, n, n), z, dtype=F64), K)
    color, _, alpha = render_dof(p, _eye(), K, n, n, coc_map=torch.full((1, n, n), coc, dtype=F64), impl='cpu')
    row = (color / alpha)[0, n // 2]
    xs = torch.arange(n, dtype=F64) + 0.5
    mean = (row * xs).sum() / row.sum()
    measured = float((row * (xs - mean)**2).sum() / row.sum())
    s, a = 0.55, coc**2 / (2 * math.log(4))
    u = math.log(255 * 0.95 * s / (s + a))  # a 2D gaussian cut at r^2 / (2 var) = u keeps this per-axis variance:
    expected = (s + a) * (1 - (u + 1) * math.exp(-u)) / (1 - math.exp(-u))
    print(f'column variance at coc {coc} px: {measured:.3f} px^2, one cut Gaussian {expected:.3f}, uncut {s + a:.3f}')
    assert measured == pytest.approx(expected, rel=0.1)


def test_renderer_builds_from_the_registry_and_renders_views(cpu_ext):
    b, s, n = 2, 3, 16
    renderer = MODELS.build(dict(type='mmbokeh.GaussianDoFRenderer', impl='cpu'))
    assert isinstance(renderer, GaussianDoFRenderer)
    g = torch.Generator().manual_seed(5)
    image = torch.rand(b, 3, n, n, generator=g).requires_grad_()
    planes = torch.tensor([2.0, 1.3])
    init_depth = (planes.view(b, 1, 1, 1) * torch.ones(b, 1, n, n)).requires_grad_()
    coc = (3 * torch.rand(b, s, 1, n, n, generator=g)).requires_grad_()
    K = intrinsics_from_camera(0.03, 1e-3, n, n).expand(b, 3, 3)
    out = renderer(image, init_depth, coc, K)
    assert out['images'].shape == (b, s, 3, n, n)
    assert out['depth'].shape == out['alpha'].shape == (b, s, 1, n, n)
    for i in range(b):  # eq. 13 (normalised by alpha) gives back the plane's depth wherever it is drawn
        mask = out['alpha'][i] > 0.5
        assert mask.float().mean() > 0.9
        torch.testing.assert_close(out['depth'][i][mask], torch.full_like(out['depth'][i][mask], float(planes[i])))
    (out['images'].sum() + out['depth'].sum()).backward()
    for x in (image, init_depth, coc):
        assert x.grad is not None and bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().max()) > 0
    with pytest.raises(ValueError, match='coc'):
        renderer(image, init_depth, coc[:, :, 0], K)


def test_renderer_fill_empty_uses_the_init_depth_where_nothing_was_drawn(cpu_ext):
    n = 16
    image = torch.rand(1, 3, n, n)
    init_depth = torch.full((1, 1, n, n), 2.0)
    init_depth[..., :, n // 2:] = 0  # invalid depth: no Gaussian on the right half
    init_depth[..., 0, -1] = 5.0  # a lone valid pixel, far from the rest
    coc = torch.zeros(1, 1, 1, n, n)
    K = intrinsics_from_camera(0.03, 1e-3, n, n).expand(1, 3, 3)
    plain = GaussianDoFRenderer(impl='cpu')(image, init_depth, coc, K)
    filled = GaussianDoFRenderer(impl='cpu', fill_empty=True)(image, init_depth, coc, K)
    empty = plain['alpha'][0, 0] <= 1e-6
    assert empty[n // 2:, -4:].all()
    assert (plain['depth'][0, 0][empty] == 0).all()
    torch.testing.assert_close(filled['depth'][0, 0][empty], init_depth[0][empty])
    torch.testing.assert_close(filled['depth'][0, 0][~empty], plain['depth'][0, 0][~empty])


def test_gaussian_params_checks_shapes():
    with pytest.raises(ValueError, match='opacities'):
        GaussianParams(torch.zeros(3, 3), torch.ones(3, 3), torch.zeros(3, 4), torch.ones(2), torch.ones(3, 3))
    p = GaussianParams(torch.zeros(3, 3), torch.ones(3, 3), torch.zeros(3, 4), torch.ones(3), torch.ones(3, 2))
    assert len(p[torch.tensor([True, False, True])]) == 2 and p.to(F64).colors.dtype == F64
