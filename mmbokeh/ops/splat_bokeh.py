"""``splat_bokeh``: differentiable scatter rendering of depth of field (BokehMe's soft disc or a gaussian)."""
from __future__ import annotations

import math
from types import ModuleType
from typing import Optional, Union

import torch
from torch.autograd.function import once_differentiable

from ._backend import alert_not_deterministic, load_extension, resolve_impl
from ._validation import check_choice, check_image, check_map
from .reference import splat_bokeh_reference

KERNELS = {'soft_disc': 0, 'gaussian': 1}
#: ``occlusion`` modes; ``False`` is 'none' and ``True`` is 'exact'.
OCCLUSION_MODES = ('none', 'exact', 'layered')
#: Default depth-layer width (pixels of signed defocus) of ``occlusion='layered'``, and the smallest one accepted.
LAYER_WIDTH = 0.25
MIN_LAYER_WIDTH = 1.0 / 64
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


class _SplatLayeredFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, image: torch.Tensor, defocus: torch.Tensor, layer: torch.Tensor, ext: ModuleType, kernel: int,
                layer_width: float) -> torch.Tensor:
        out, wsum = ext.splat_bokeh_layered_forward(image, defocus, layer, kernel, layer_width, OCCLUSION_MARGIN,
                                                    OCCLUSION_SHARPNESS)
        ctx.save_for_backward(image, defocus, layer, out, wsum)
        ctx.ext, ctx.kernel, ctx.layer_width = ext, kernel, layer_width
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        image, defocus, layer, out, wsum = ctx.saved_tensors
        g_img, g_def = ctx.ext.splat_bokeh_layered_backward(grad_out.contiguous(), image, defocus, layer, out, wsum,
                                                            ctx.kernel, ctx.layer_width, OCCLUSION_MARGIN,
                                                            OCCLUSION_SHARPNESS)
        return (g_img if ctx.needs_input_grad[0] else None, g_def if ctx.needs_input_grad[1] else None, None, None,
                None, None)


def occlusion_mode(occlusion: object) -> str:
    """'none', 'exact' or 'layered' from an ``occlusion`` argument (a bool or one of :data:`OCCLUSION_MODES`)."""
    if isinstance(occlusion, bool):
        return 'exact' if occlusion else 'none'
    if isinstance(occlusion, str) and occlusion in OCCLUSION_MODES:
        return occlusion
    raise (ValueError if isinstance(occlusion, str) else TypeError)(
        f'occlusion must be a bool or one of {OCCLUSION_MODES}, got {occlusion!r}')


def check_layer_width(layer_width: object) -> float:
    """``layer_width`` must be a real number in [1/64, 1024] (pixels of defocus)."""
    if isinstance(layer_width, bool) or not isinstance(layer_width, (int, float)):
        raise TypeError(f'layer_width must be a number, got {type(layer_width).__name__}')
    if not (math.isfinite(layer_width) and MIN_LAYER_WIDTH <= layer_width <= MAX_RADIUS):
        raise ValueError(f'layer_width must be in [1/64, {MAX_RADIUS:.0f}] px, got {layer_width!r}')
    return float(layer_width)


def splat_bokeh(image: torch.Tensor,
                defocus: torch.Tensor,
                kernel: str = 'soft_disc',
                occlusion: Union[bool, str] = False,
                impl: Optional[str] = None,
                layer_width: float = LAYER_WIDTH) -> torch.Tensor:
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
      ``occlusion='exact'`` is the same.
    - ``occlusion='layered'``: the gate with the source's defocus replaced by the centre of its depth layer,
      ``sigmoid(4 (C(s) - D(t) + 1))``, ``C = (floor(D / h) + 0.5) h``, h = ``layer_width``: the sources are grouped
      in layers h px of defocus deep, each layer is scattered with the plain kernel (the soft disc in time linear in
      r) and composited into each target with its gate. Each pair's gate is within a factor exp(+-2h) of the exact
      one, so every output pixel lies within ``tanh(h) (max - min)`` of the exact mode's, max - min the range of
      the image values reaching it (0.245 of it for h = 0.25 px; measured: at most 0.015 on [0, 1] images, see
      ``docs/ops.md``).

    Gradients flow to ``image`` and ``defocus`` (through r = |defocus|, the tanh edge and the gate).

    Args:
        image: [B,C,H,W] float32/float64.
        defocus: [B,1,H,W] signed CoC radius in pixels, finite, ``|defocus| <= 1024``.
        kernel: 'soft_disc' or 'gaussian'.
        occlusion: False / 'none', True / 'exact', or 'layered'.
        impl: 'reference', 'cpu', 'cuda' or None (automatic; see :mod:`mmbokeh.ops._backend`).
        layer_width: depth-layer width h in pixels of defocus of ``occlusion='layered'`` (>= 1/64).

    Returns:
        [B,C,H,W] rendered image.
    """
    check_image('image', image)
    check_map('defocus', defocus, image, max_abs=MAX_RADIUS)
    check_choice('kernel', kernel, tuple(KERNELS))
    mode = occlusion_mode(occlusion)
    layer_width = check_layer_width(layer_width)
    which = resolve_impl(impl, image.device)
    if which == 'reference':
        return splat_bokeh_reference(image, defocus, kernel, mode, OCCLUSION_MARGIN, OCCLUSION_SHARPNESS, layer_width)
    if which == 'cuda':
        alert_not_deterministic('splat_bokeh')
    ext = load_extension(which)
    if mode == 'layered':
        layer = torch.floor(defocus.detach() / layer_width).to(torch.int32).contiguous()
        return _SplatLayeredFunction.apply(image.contiguous(), defocus.contiguous(), layer, ext, KERNELS[kernel],
                                           layer_width)
    return _SplatBokehFunction.apply(image.contiguous(), defocus.contiguous(), ext, KERNELS[kernel], mode == 'exact')
