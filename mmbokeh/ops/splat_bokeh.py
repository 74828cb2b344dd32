"""``splat_bokeh``: differentiable scatter rendering of depth of field (BokehMe's soft disc or a gaussian)."""
from __future__ import annotations

from types import ModuleType
from typing import Optional

import torch
from torch.autograd.function import once_differentiable

from ._backend import load_extension, resolve_impl
from ._validation import check_bool, check_choice, check_image, check_map
from .reference import splat_bokeh_reference

KERNELS = {'soft_disc': 0, 'gaussian': 1}
#: Occlusion gate sigmoid(SHARPNESS * (D_src - D_dst + MARGIN)), in pixels of signed defocus.
OCCLUSION_MARGIN = 1.0
OCCLUSION_SHARPNESS = 4.0
#: Largest |defocus| the ops accept, in pixels.
MAX_RADIUS = 1024.0


class _SplatBokehFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, image: torch.Tensor, defocus: torch.Tensor, ext: ModuleType, kernel: int,
                occlusion: bool) -> torch.Tensor:
        out, wsum = ext.splat_bokeh_forward(image, defocus, kernel, occlusion, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS)
        ctx.save_for_backward(image, defocus, out, wsum)
        ctx.ext, ctx.kernel, ctx.occlusion = ext, kernel, occlusion
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        image, defocus, out, wsum = ctx.saved_tensors
        g_img, g_def = ctx.ext.splat_bokeh_backward(grad_out.contiguous(), image, defocus, out, wsum, ctx.kernel,
                                                    ctx.occlusion, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS)
        return (g_img if ctx.needs_input_grad[0] else None, g_def if ctx.needs_input_grad[1] else None, None, None,
                None)


def splat_bokeh(image: torch.Tensor,
                defocus: torch.Tensor,
                kernel: str = 'soft_disc',
                occlusion: bool = False,
                impl: Optional[str] = None) -> torch.Tensor:
    """Render depth of field by scattering every pixel over a disc of radius ``|defocus|``.

    Each source pixel s spreads its colour with weight w(s, t) over the targets t of its window and the result is
    normalised: ``out(t) = sum_s w(s, t) I(s) / sum_s w(s, t)``.

    - ``kernel='soft_disc'``: BokehMe's classical renderer (the one BokehDepth trained with):
      ``w = (0.5 + 0.5 tanh(4 (r - rho))) / (r^2 + 0.2)`` over the square ``|dx|, |dy| <= floor(r) + 1``.
    - ``kernel='gaussian'``: ``w = exp(-rho^2 / (2 v)) / (2 pi v)``, ``v = r^2 / 4 + 0.1`` (same second moment as
      the disc), over ``|dx|, |dy| <= floor(3 sqrt(v)) + 1``.
    - ``occlusion=True``: a target only receives from sources that are not behind it: w is multiplied by
      ``sigmoid(4 (D(s) - D(t) + 1))`` with D the signed defocus (larger = nearer, as
      :func:`mmbokeh.optics.signed_defocus` gives it). A sharp foreground then keeps its edges over a blurred
      background; a blurred foreground still spreads over what lies behind it. Visits r^2 pixels per source.

    Gradients flow to ``image`` and ``defocus`` (through r = |defocus|, the tanh edge and the gate).

    Args:
        image: [B,C,H,W] float32/float64.
        defocus: [B,1,H,W] signed CoC radius in pixels, finite, ``|defocus| <= 1024``.
        kernel: 'soft_disc' or 'gaussian'.
        occlusion: enable the occlusion gate.
        impl: 'reference', 'cpu', 'cuda' or None (automatic; see :mod:`mmbokeh.ops._backend`).

    Returns:
        [B,C,H,W] rendered image.
    """
    check_image('image', image)
    check_map('defocus', defocus, image, max_abs=MAX_RADIUS)
    check_choice('kernel', kernel, tuple(KERNELS))
    check_bool('occlusion', occlusion)
    which = resolve_impl(impl, image.device)
    if which == 'reference':
        return splat_bokeh_reference(image, defocus, kernel, occlusion, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS)
    return _SplatBokehFunction.apply(image.contiguous(), defocus.contiguous(), load_extension(which), KERNELS[kernel],
                                     occlusion)
