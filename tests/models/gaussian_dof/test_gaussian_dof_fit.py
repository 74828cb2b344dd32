"""Per-scene fitting of the Gaussian-splat branch: it overfits a tiny synthetic defocused scene."""
import pytest
import torch

from mmbokeh.models.gaussian_dof import fit_gaussians, gaussians_from_depth, intrinsics_from_camera, render_dof


def _layered_scene(n=32):
    """A random texture on three depth layers (3 m background, a 1.5 m box, a 0.8 m disc), seen by one camera,
    and the CoC maps of two focus distances (1 m and 3 m, K = 4 px m: radii 0 to 3.7 px)."""
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing='ij')
    depth = torch.full((n, n), 3.0)
    depth[(xs > n * 0.5) & (ys > n * 0.2) & (ys < n * 0.8)] = 1.5
    depth[(xs - n * 0.3)**2 + (ys - n * 0.6)**2 < (n * 0.2)**2] = 0.8
    image = torch.rand(3, n, n, generator=g)
    K = intrinsics_from_camera(0.04, 1e-3, n, n)
    cocs = torch.stack([4.0 * (1 / depth - 1 / s).abs() for s in (1.0, 3.0)]).unsqueeze(1)
    return image, depth[None], K, cocs


def test_fit_overfits_a_tiny_defocused_scene(cpu_ext):
    image, depth, K, cocs = _layered_scene()
    n = image.shape[-1]
    viewmat = torch.eye(4)
    true = gaussians_from_depth(image, depth, K)
    with torch.no_grad():
        targets = torch.stack([render_dof(true, viewmat, K, n, n, coc_map=c, impl='cpu')[0] for c in cocs])
    assert float((targets[0] - targets[1]).abs().mean()) > 0.05  # the two focus settings differ
    g = torch.Generator().manual_seed(1)
    init = true.clone()  # grey, half transparent, depths off by 5 % (along the rays)
    init.colors = torch.full_like(init.colors, 0.5)
    init.opacities = torch.full_like(init.opacities, 0.5)
    init.means3d = init.means3d * (1 + 0.05 * torch.randn(len(init), 1, generator=g))
    fitted, losses = fit_gaussians(init, targets, cocs, viewmat, K, steps=200, impl='cpu')
    with torch.no_grad():
        final = sum(float((render_dof(fitted, viewmat, K, n, n, coc_map=c, impl='cpu')[0] - t).abs().mean())
                    for c, t in zip(cocs, targets))
    ratio = losses[0] / final
    print(f'fit: L1 (sum of 2 views) {losses[0]:.4f} -> {final:.4f} after 200 steps, ratio {ratio:.1f}x')
    assert len(losses) == 200 and ratio >= 10
    # the per-Gaussian colours themselves are not recovered (mean error stays ~0.24, as for grey): every view
    # low-passes them (footprint + eps2d = 0.55 px^2, plus CoC >= 1 px on the box and the disc), so high-frequency
    # colour patterns are nearly invisible to the loss


def test_fit_keeps_what_it_does_not_optimise_and_takes_a_callable_loss(cpu_ext):
    image, depth, K, cocs = _layered_scene(12)
    n = image.shape[-1]
    p = gaussians_from_depth(image, depth, K)
    targets = torch.stack([render_dof(p, torch.eye(4), K, n, n, coc_map=c, impl='cpu')[0] for c in cocs]).detach()
    start = p.clone()
    start.colors = torch.full_like(p.colors, 0.3)
    calls = []

    def loss(pred, target):
        calls.append(pred.shape)
        return ((pred - target)**2).mean()

    fitted, losses = fit_gaussians(start, targets, cocs, torch.eye(4), K, steps=5, loss=loss, impl='cpu',
                                   optimise=('colors', ))
    assert len(losses) == 5 and calls[0] == (3, n, n) and len(calls) == 10
    assert losses[-1] < losses[0]
    for name in ('means3d', 'scales', 'quats'):
        torch.testing.assert_close(getattr(fitted, name), getattr(start, name))
    torch.testing.assert_close(fitted.opacities, start.opacities, rtol=0, atol=1e-6)  # logit round trip
    assert not torch.equal(fitted.colors, start.colors)
    with pytest.raises(ValueError, match='optimise'):
        fit_gaussians(start, targets, cocs, torch.eye(4), K, steps=1, optimise=('colours', ))
    with pytest.raises(ValueError, match='loss'):
        fit_gaussians(start, targets, cocs, torch.eye(4), K, steps=1, loss='huber')
    with pytest.raises(ValueError, match='coc_maps'):
        fit_gaussians(start, targets, cocs[:1], torch.eye(4), K, steps=1)
