"""Fixtures of the op tests: the compiled CPU kernels (built once, cached on disk) and device markers."""
import pytest

from mmbokeh.ops import backend_info, load_extension


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda_build: compiles the CUDA kernels with nvcc where nvcc exists '
                                       '(MMBOKEH_SKIP_CUDA_BUILD=1 skips)')


@pytest.fixture(scope='session')
def cpu_ext():
    """The C++ CPU extension; a failed build fails the tests that need it (a compiler is part of the setup)."""
    ext = load_extension('cpu')
    assert ext is not None, f'the CPU kernels did not build: {backend_info()}'
    return ext

