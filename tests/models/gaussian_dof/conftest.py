"""Shared by the Gaussian-splat branch tests: single-threaded kernels and the compiled CPU extension."""
import pytest
import torch

from mmbokeh.ops import backend_info, load_extension


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny images make the C++ kernels' parallel_for over tiles mostly overhead, and on a loaded machine OpenMP
    threads waiting for each other cost 5-10x (measured on this project's shared 2-core machine): run single-threaded
    and restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def cpu_ext():
    ext = load_extension('cpu')
    assert ext is not None, f'the CPU kernels did not build: {backend_info()}'
    return ext
