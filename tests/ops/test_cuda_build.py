"""Compile-only check of the CUDA sources with nvcc (no GPU needed).

Runs wherever nvcc is found (CI has it), so CI compiles the CUDA sources; slow on the first run (about 2 minutes,
cached afterwards). Skip it with ``MMBOKEH_SKIP_CUDA_BUILD=1`` or ``-m "not cuda_build"``. Needs nvcc; the toolkit
root is read from CUDA_HOME or the nvcc wrapper, and the
architecture from TORCH_CUDA_ARCH_LIST (9.0 when unset and no GPU is visible).
"""
import os
import shutil

import pytest

from mmbokeh.ops import _backend

pytestmark = pytest.mark.cuda_build


def test_cuda_extension_compiles_and_links():
    if os.environ.get('MMBOKEH_SKIP_CUDA_BUILD') == '1':
        pytest.skip('MMBOKEH_SKIP_CUDA_BUILD=1')
    if shutil.which('nvcc') is None and _backend.find_cuda_home() is None:
        pytest.skip('nvcc not found')
    module = _backend.build_extension('cuda')
    for name in ('splat_bokeh_forward', 'splat_bokeh_backward', 'psf_blur_forward', 'psf_blur_backward',
                 'rasterize_forward', 'rasterize_backward'):
        assert callable(getattr(module, name))
    assert os.path.exists(module.__file__)
