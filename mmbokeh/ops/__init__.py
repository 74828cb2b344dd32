"""Differentiable depth-of-field ops: a pure-PyTorch reference, C++ CPU kernels and CUDA kernels for each.

- :func:`splat_bokeh`: scatter rendering (BokehMe's soft disc or a gaussian), optionally occlusion-aware.
- :func:`psf_blur`: the Gaussian PSF layer of Gur and Wolf (DEReD, SDNet).
- :func:`rasterize_gaussians_dof`: 3D Gaussian splatting through a thin lens.

See :mod:`mmbokeh.ops._backend` for how an implementation is picked (``impl=`` or ``$MMBOKEH_OPS_IMPL``).
"""
from ._backend import backend_info, build_extension, load_extension, resolve_impl
from .psf_blur import psf_blur
from .rasterize_gaussians_dof import rasterize_gaussians_dof
from .splat_bokeh import splat_bokeh

__all__ = [
    'backend_info', 'build_extension', 'load_extension', 'psf_blur', 'rasterize_gaussians_dof', 'resolve_impl',
    'splat_bokeh'
]
