"""CUDA kernels against the reference (forward and backward); skipped without a GPU."""
import pytest
import torch

from mmbokeh.ops import psf_blur, rasterize_gaussians_dof, splat_bokeh

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device')


def _grads(fn, inputs):
    inputs = [x.clone().requires_grad_() for x in inputs]
    outs = fn(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs, )
    loss = sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype, device=o.device).reshape(o.shape)).sum()
               for o in outs)
    loss.backward()
    return [o.detach().cpu() for o in outs], [x.grad.cpu() for x in inputs]


@pytest.mark.parametrize('kernel, occlusion', [('soft_disc', False), ('soft_disc', True), ('gaussian', False),
                                               ('gaussian', True), ('soft_disc', 'layered'), ('gaussian', 'layered')])
def test_splat_bokeh_cuda_matches_reference(kernel, occlusion):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 20, 24, generator=g, dtype=torch.float64)
    defocus = (torch.rand(2, 1, 20, 24, generator=g, dtype=torch.float64) - 0.5) * 12
    ref = _grads(lambda i, d: splat_bokeh(i, d, kernel, occlusion, impl='reference'), [image, defocus])
    cuda = _grads(lambda i, d: splat_bokeh(i, d, kernel, occlusion, impl='cuda'), [image.cuda(), defocus.cuda()])
    for a, b in zip(ref[0] + ref[1], cuda[0] + cuda[1]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kernel, occlusion', [('soft_disc', 'none'), ('soft_disc', 'layered'),
                                               ('gaussian', 'layered')])
def test_splat_bokeh_linear_cuda_matches_reference_at_large_radii(kernel, occlusion):
    """The linear-time CUDA paths (csrc/cuda/splat_linear.cu) at sizes spanning many 256-thread blocks, with radii up
    to 16 px against the reference and up to 64 px against the CPU kernels, forward and backward."""
    g = torch.Generator().manual_seed(3)
    image = torch.rand(2, 3, 40, 52, generator=g, dtype=torch.float64)
    blocks = torch.nn.functional.interpolate(torch.rand(2, 1, 4, 5, generator=g, dtype=torch.float64), size=(40, 52))
    for max_r, oracle in ((16.0 if kernel == 'soft_disc' else 6.0, 'reference'), (64.0, 'cpu')):
        if kernel == 'gaussian' and oracle == 'cpu':
            continue
        defocus = ((blocks * 2 - 1) * (max_r - 0.5)).contiguous()
        ref = _grads(lambda i, d: splat_bokeh(i, d, kernel, occlusion, impl=oracle), [image, defocus])
        cuda = _grads(lambda i, d: splat_bokeh(i, d, kernel, occlusion, impl='cuda'), [image.cuda(), defocus.cuda()])
        for a, b in zip(ref[0] + ref[1], cuda[0] + cuda[1]):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_psf_blur_cuda_matches_reference():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(2, 3, 15, 17, generator=g, dtype=torch.float64)
    sigma = torch.rand(2, 1, 15, 17, generator=g, dtype=torch.float64) * 4
    ref = _grads(lambda i, s: psf_blur(i, s, 7, impl='reference'), [image, sigma])
    cuda = _grads(lambda i, s: psf_blur(i, s, 7, impl='cuda'), [image.cuda(), sigma.cuda()])
    for a, b in zip(ref[0] + ref[1], cuda[0] + cuda[1]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


def test_rasterize_cuda_matches_reference():
    g = torch.Generator().manual_seed(2)
    n, dt = 40, torch.float64
    means = torch.randn(n, 3, generator=g, dtype=dt) * 0.4 + torch.tensor([0.0, 0.0, 3.0], dtype=dt)
    scales = torch.rand(n, 3, generator=g, dtype=dt) * 0.08 + 0.03
    quats = torch.randn(n, 4, generator=g, dtype=dt)
    opac = torch.rand(n, generator=g, dtype=dt) * 0.8 + 0.1
    colors = torch.rand(n, 3, generator=g, dtype=dt)
    K = torch.tensor([[36.0, 0, 20], [0, 36.0, 16], [0, 0, 1]], dtype=dt)

    def render(impl, device):
        def fn(m, s, q, o, c):
            return rasterize_gaussians_dof(m, s, q, o, c, torch.eye(4, dtype=dt, device=device), K.to(device), 40, 32,
                                           2.5, 6.0, impl=impl)
        return fn

    ref = _grads(render('reference', 'cpu'), [means, scales, quats, opac, colors])
    cuda = _grads(render('cuda', 'cuda'), [x.cuda() for x in (means, scales, quats, opac, colors)])
    for a, b in zip(ref[0] + ref[1], cuda[0] + cuda[1]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_atomic_kernels_refuse_deterministic_mode():
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        image, defocus = torch.rand(1, 3, 8, 8, device='cuda'), torch.ones(1, 1, 8, 8, device='cuda')
        with pytest.raises(RuntimeError, match='splat_bokeh on CUDA'):
            splat_bokeh(image, defocus, impl='cuda')
    finally:
        torch.use_deterministic_algorithms(before)
