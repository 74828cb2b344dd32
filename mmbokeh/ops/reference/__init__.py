"""Pure-PyTorch references of the DoF ops: slow, autograd-differentiable, and the oracle of the kernels."""
from .psf_blur import psf_blur_reference
from .rasterize import composite_reference
from .splat_bokeh import splat_bokeh_reference

__all__ = ['composite_reference', 'psf_blur_reference', 'splat_bokeh_reference']
