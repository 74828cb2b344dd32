"""``psf_blur``: the Gaussian PSF layer of Gur and Wolf (as used by DEReD and SDNet), differentiable."""
from __future__ import annotations

from types import ModuleType
from typing import Optional

import torch
from torch.autograd.function import once_differentiable

from ._backend import load_extension, resolve_impl
from ._validation import check_image, check_map
from .reference import psf_blur_reference

#: Largest window accepted (the gather visits window^2 pixels per output pixel).
MAX_WINDOW = 101


class _PsfBlurFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, image: torch.Tensor, sigma: torch.Tensor, ext: ModuleType, window: int) -> torch.Tensor:
        out, wsum = ext.psf_blur_forward(image, sigma, window)
        ctx.save_for_backward(image, sigma, out, wsum)
        ctx.ext, ctx.window = ext, window
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        image, sigma, out, wsum = ctx.saved_tensors
        g_img, g_sig = ctx.ext.psf_blur_backward(grad_out.contiguous(), image, sigma, out, wsum, ctx.window)
        return g_img if ctx.needs_input_grad[0] else None, g_sig if ctx.needs_input_grad[1] else None, None, None


def psf_blur(image: torch.Tensor, sigma: torch.Tensor, window: int = 7, impl: Optional[str] = None) -> torch.Tensor:
    """Spatially varying Gaussian blur by gathering over a ``window x window`` neighbourhood.

    Exactly: for a pixel p with c_p > 1, ``out(p) = sum_q g(c_q, |p - q|) I(q) / sum_q g(c_q, |p - q|)`` over the
    neighbours q in the window with c_q > 1, where ``g(c, rho) = c^-2 exp(-2 rho^2 / c^2)`` (a gaussian of
    standard deviation c / 2) and c = ``sigma`` in pixels; a pixel with c_p <= 1 (radii below 1 px, negative values
    included) is copied unchanged and never spreads to its neighbours. Gradients flow to ``image`` and ``sigma``
    (zero where c <= 1). As in DEReD the window truncates large radii (7x7 cannot show a 24 px blur); pass a larger
    ``window`` to avoid it.

    Args:
        image: [B,C,H,W] float32/float64.
        sigma: [B,1,H,W] CoC parameter c in pixels (e.g. :func:`mmbokeh.optics.coc_radius_px`), finite.
        window: odd window size, 1..101.
        impl: 'reference', 'cpu', 'cuda' or None (automatic).

    Returns:
        [B,C,H,W] blurred image.
    """
    check_image('image', image)
    check_map('sigma', sigma, image)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0 or window > MAX_WINDOW:
        raise ValueError(f'window must be an odd integer in [1, {MAX_WINDOW}], got {window!r}')
    which = resolve_impl(impl, image.device)
    if which == 'reference':
        return psf_blur_reference(image, sigma, window)
    return _PsfBlurFunction.apply(image.contiguous(), sigma.contiguous(), load_extension(which), window)
