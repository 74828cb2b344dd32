"""CUDA kernels with atomic adds follow torch.use_deterministic_algorithms; the CPU kernels are deterministic."""
import warnings

import pytest
import torch

from mmbokeh.ops import splat_bokeh
from mmbokeh.ops._backend import alert_not_deterministic


@pytest.fixture
def deterministic_mode():
    before, warn_only = torch.are_deterministic_algorithms_enabled(), \
        torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(before, warn_only=warn_only)


def test_alert_follows_torchs_deterministic_setting(deterministic_mode):
    torch.use_deterministic_algorithms(False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        alert_not_deterministic('splat_bokeh')  # nothing required: silent
    torch.use_deterministic_algorithms(True)
    with pytest.raises(RuntimeError, match=r'splat_bokeh on CUDA .* not deterministic.*impl="cpu".*warn_only=True'):
        alert_not_deterministic('splat_bokeh')
    torch.use_deterministic_algorithms(True, warn_only=True)
    with pytest.warns(UserWarning, match='rasterize_gaussians_dof'):
        alert_not_deterministic('rasterize_gaussians_dof')


@pytest.mark.parametrize('occlusion', ['none', 'exact', 'layered'])
def test_cpu_splat_is_allowed_and_repeats_bit_for_bit_in_deterministic_mode(deterministic_mode, occlusion):
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 20, 24, generator=gen, requires_grad=True)
    defocus = ((torch.rand(1, 1, 20, 24, generator=gen) - 0.5) * 12).requires_grad_()
    runs = []
    for _ in range(2):
        out = splat_bokeh(image, defocus, occlusion=occlusion, impl='cpu')
        grads = torch.autograd.grad((out * torch.linspace(0, 1, out.numel()).view_as(out)).sum(), (image, defocus))
        runs.append((out.detach(), *grads))
    assert all(torch.equal(a, b) for a, b in zip(*runs))
