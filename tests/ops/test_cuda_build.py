"""Compile-only check of the CUDA sources with nvcc (no GPU needed).

Slow on first run (minutes; cached afterwards), so it only runs when selected: ``pytest -m cuda_build`` or
``MMBOKEH_TEST_CUDA_BUILD=1``. Needs nvcc; the toolkit root is read from CUDA_HOME or the nvcc wrapper, and the
architecture from TORCH_CUDA_ARCH_LIST (9.0 when unset and no GPU is visible).
"""
import os
import shutil

import pytest

from mmbokeh.ops import _backend

pytestmark = pytest.mark.cuda_build


def _selected(config) -> bool:
    return 'cuda_build' in (config.getoption('markexpr') or '') or os.environ.get('MMBOKEH_TEST_CUDA_BUILD') == '1'


def test_cuda_extension_compiles_and_links(request):
    if not _selected(request.config):
        pytest.skip('compile-only CUDA build: select with -m cuda_build or MMBOKEH_TEST_CUDA_BUILD=1')
    if shutil.which('nvcc') is None and _backend.find_cuda_home() is None:
        pytest.skip('nvcc not found')
    module = _backend.build_extension('cuda')
    for name in ('splat_bokeh_forward', 'splat_bokeh_backward', 'psf_blur_forward', 'psf_blur_backward',
                 'rasterize_forward', 'rasterize_backward'):
        assert callable(getattr(module, name))
    assert os.path.exists(module.__file__)
