"""The linear-time CUDA splat_bokeh logic (soft disc without occlusion, layered occlusion) run on the host.

``tests/ops/cuda_emulation/emulate.cpp`` runs the per-source and per-row bodies that the CUDA kernels run
(``mmbokeh/ops/csrc/common/splat_linear.h``) serially, with the orchestration of ``csrc/cuda/splat_linear.cu``
mirrored, so their arithmetic and indexing are checked against the reference here, forward and backward, at sizes
and radii a GPU test would use. Not covered: the CUDA launch configuration and atomics (``tests/ops/test_cuda.py``
checks those on a GPU). The first run compiles the emulation (about a minute; cached afterwards).
"""
import pytest
import torch

from mmbokeh.ops import _backend, splat_bokeh
from mmbokeh.ops.reference import splat_bokeh_reference
from mmbokeh.ops.splat_bokeh import KERNELS, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS

EMULATION = _backend.CSRC.parents[2] / 'tests' / 'ops' / 'cuda_emulation' / 'emulate.cpp'


@pytest.fixture(scope='module')
def emulation():
    from torch.utils import cpp_extension

    cpu_dir = _backend.default_build_dir('cpu')
    directory = cpu_dir.with_name(cpu_dir.name.replace('cpu-', 'cuda-emulation-', 1))
    directory.mkdir(parents=True, exist_ok=True)
    return cpp_extension.load(name='mmbokeh_cuda_emulation', sources=[str(EMULATION)], build_directory=str(directory),
                              extra_cflags=['-O2', '-ffp-contract=off'])


def _case(seed, shape, max_r, dtype):
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    image = torch.rand(shape, generator=g, dtype=dtype)
    # blocks of depth plus a ramp: several layers per row, radii up to max_r, away from integers
    blocks = torch.nn.functional.interpolate(torch.rand(b, 1, 4, 5, generator=g, dtype=dtype), size=(h, w))
    ramp = torch.linspace(0, 1, w, dtype=dtype).expand(b, 1, h, w)
    defocus = (blocks * 2 - 1) * (max_r - 1) + 0.5 * ramp
    frac = defocus.abs() - defocus.abs().floor()
    defocus = defocus + torch.where((frac < 0.15) | (frac > 0.85), 0.3, 0.0) * defocus.sign()
    return image, defocus.clamp(-max_r + 0.1, max_r - 0.1).contiguous()


def _run(emulation, image, defocus, kernel, occlusion, layer_width=0.25):
    layer = torch.floor(defocus / layer_width).to(torch.int32) if occlusion == 'layered' else None
    args = (KERNELS[kernel], layer_width, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS)
    out, wsum = emulation.forward(image, defocus, layer, *args)
    grad = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    g_img, g_def = emulation.backward(grad.contiguous(), image, defocus, layer, out, wsum, *args)
    return out, g_img, g_def


def _grads(image, defocus, impl, **kwargs):
    image, defocus = image.clone().requires_grad_(), defocus.clone().requires_grad_()
    out = splat_bokeh(image, defocus, impl=impl, **kwargs)
    grad = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * grad).sum().backward()
    return out.detach(), image.grad, defocus.grad


def _reference(image, defocus, kernel, occlusion, layer_width=0.25):
    image, defocus = image.clone().requires_grad_(), defocus.clone().requires_grad_()
    out = splat_bokeh_reference(image, defocus, kernel, occlusion, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS, layer_width)
    grad = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * grad).sum().backward()
    return out.detach(), image.grad, defocus.grad


@pytest.mark.parametrize('kernel, occlusion, shape, max_r', [
    ('soft_disc', 'none', (2, 3, 37, 45), 16.0),
    ('soft_disc', 'layered', (2, 3, 37, 45), 12.0),
    ('soft_disc', 'layered', (1, 1, 30, 33), 2.5),  # no core spans below R = 2
    ('gaussian', 'layered', (1, 2, 26, 29), 6.0),
])
def test_emulated_cuda_logic_matches_the_reference(emulation, kernel, occlusion, shape, max_r):
    image, defocus = _case(0, shape, max_r, torch.float64)
    emulated = _run(emulation, image, defocus, kernel, occlusion)
    reference = _reference(image, defocus, kernel, occlusion)
    for name, got, want in zip(('out', 'grad image', 'grad defocus'), emulated, reference):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=name)
    assert reference[2].abs().max() > 1e-3


@pytest.mark.parametrize('occlusion', ['none', 'layered'])
def test_emulated_cuda_logic_at_large_radii_matches_the_cpu_kernels(cpu_ext, emulation, occlusion):
    """Radii up to 64 px (beyond the image): forward against the reference, gradients against the CPU kernels
    (themselves checked against the reference in test_splat_bokeh.py; the reference's autograd at r = 64 is slow)."""
    image, defocus = _case(2, (1, 3, 36, 44), 64.0, torch.float64)
    emulated = _run(emulation, image, defocus, 'soft_disc', occlusion)
    with torch.no_grad():
        ref = splat_bokeh_reference(image, defocus, 'soft_disc', occlusion, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS, 0.25)
    torch.testing.assert_close(emulated[0], ref, rtol=1e-4, atol=1e-5)
    cpu = _grads(image, defocus, 'cpu', occlusion=occlusion)
    for name, got, want in zip(('out', 'grad image', 'grad defocus'), emulated, cpu):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=name)


def test_emulated_cuda_logic_in_float32(emulation):
    image, defocus = _case(1, (2, 3, 31, 40), 9.0, torch.float32)
    out, _, _ = _run(emulation, image, defocus, 'soft_disc', 'layered')
    torch.testing.assert_close(out, _reference(image, defocus, 'soft_disc', 'layered')[0], rtol=1e-4, atol=1e-4)
