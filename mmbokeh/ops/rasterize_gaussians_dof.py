"""``rasterize_gaussians_dof``: 3D Gaussian splatting with a thin-lens depth of field, differentiable."""
from __future__ import annotations

from types import ModuleType
from typing import Optional, Tuple, Union

import torch
from torch.autograd.function import once_differentiable

from ._backend import alert_not_deterministic, load_extension, resolve_impl
from ._projection import bin_tiles, project_gaussians
from .reference import composite_reference

Scalar = Union[float, torch.Tensor]


class _CompositeFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, ext: ModuleType, width: int,
                height: int, tile_size: int):
        color, depth, alpha = ext.rasterize_forward(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids,
                                                    width, height, tile_size)
        ctx.save_for_backward(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, color, depth, alpha)
        ctx.ext, ctx.size = ext, (width, height, tile_size)
        return color, depth, alpha

    @staticmethod
    @once_differentiable
    def backward(ctx, g_color, g_depth, g_alpha):
        means2d, conics, opacities, colors, depths, offsets, ids, color, depth, alpha = ctx.saved_tensors
        grads = ctx.ext.rasterize_backward(g_color.contiguous(), g_depth.contiguous(), g_alpha.contiguous(), means2d,
                                           conics, opacities, colors, depths, offsets, ids, *ctx.size, color, depth,
                                           alpha)
        g_means, g_conics, g_opac, g_colors, g_depths = grads
        return g_means, g_conics, g_opac, g_colors, g_depths, None, None, None, None, None, None


def _check_tensor(name: str, x: object, shape: Tuple[Optional[int], ...], like: Optional[torch.Tensor]) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(x).__name__}')
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f'{name} must be float32 or float64, got {x.dtype}')
    if like is not None and (x.dtype != like.dtype or x.device != like.device):
        raise TypeError(f'{name} must match means3d ({like.dtype} on {like.device}), got {x.dtype} on {x.device}')
    if x.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        want = ','.join('N' if s is None else str(s) for s in shape)
        raise ValueError(f'{name} must have shape [{want}], got {tuple(x.shape)}')
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f'{name} contains NaN or inf')


def _check_scalar(name: str, x: Scalar, positive: bool) -> None:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f'{name} must be a scalar, got shape {tuple(x.shape)}')
        value = float(x.detach())
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        value = float(x)
    else:
        raise TypeError(f'{name} must be a float or a 0-dim tensor, got {type(x).__name__}')
    if not (value > 0 if positive else value >= 0) or value != value or value in (float('inf'), float('-inf')):
        raise ValueError(f'{name} must be finite and {"> 0" if positive else ">= 0"}, got {value}')


def rasterize_gaussians_dof(means3d: torch.Tensor,
                            scales: torch.Tensor,
                            quats: torch.Tensor,
                            opacities: torch.Tensor,
                            colors: torch.Tensor,
                            viewmat: torch.Tensor,
                            K: torch.Tensor,
                            width: int,
                            height: int,
                            focus_dist: Optional[Scalar],
                            coc_strength: Optional[Scalar],
                            background: Optional[torch.Tensor] = None,
                            near_plane: float = 0.01,
                            eps2d: float = 0.3,
                            tile_size: int = 16,
                            impl: Optional[str] = None,
                            coc_px: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render 3D Gaussians through a thin lens focused at ``focus_dist``.

    Each Gaussian is projected (EWA, 2D covariance S = J W Sigma W^T J^T + eps2d I), widened by its circle of
    confusion ``coc = coc_strength * |1/z - 1/focus_dist|`` px as S + a I with a = coc^2 / (2 ln 4), its opacity
    scaled by sqrt(det S / det(S + a I)) so its energy is kept, and the Gaussians are composited front to back
    (alpha = min(0.99, o exp(-sigma)), skipped below 1/255). ``coc_strength`` is the calibrated K of
    :mod:`mmbokeh.optics` (e.g. ``k_from_camera(f, N, focus_dist, pixel_size)``; pass it as a tensor computed from
    ``focus_dist`` to differentiate through the camera too). Projection and binning run in PyTorch; compositing runs
    in the chosen implementation (reference: dense over pixels x Gaussians; cpu/cuda: per 16x16 tile).

    The widening is the convolution of the unnormalised splat o exp(-x^T S^-1 x / 2) with the normalised kernel
    N(0, a I): covariance S + a I and opacity factor sqrt(det S / det(S + a I)). a = coc^2 / (2 ln 4) makes the
    kernel fall to 1/4 of its peak at r = coc (DOF-GS's constant as SDNet quotes it, the square restored).

    ``coc_px`` [N] (px, finite, >= 0) gives each Gaussian its own CoC radius instead of the thin-lens formula, e.g.
    a CoC map predicted by a network and sampled at the projected centres (SDNet, docs/ops.md). Then
    ``focus_dist`` and ``coc_strength`` are not used and may be ``None``; values that are given are still
    validated. Gradients reach ``coc_px`` through every implementation (the widening is autograd; the compositors
    differentiate w.r.t. the widened conics and opacities).

    Args:
        means3d: [N,3] world positions. scales: [N,3] standard deviations along the local axes.
        quats: [N,4] rotations (w, x, y, z), normalised internally. opacities: [N] in [0, 1].
        colors: [N,C]. viewmat: [4,4] world-to-camera. K: [3,3] intrinsics (pixels).
        width, height: image size in pixels.
        focus_dist: focus distance in metres (> 0). coc_strength: K in pixels x metres (>= 0; 0 = pinhole).
            Both may be ``None`` when ``coc_px`` is given.
        background: optional [C] colour behind everything.
        near_plane: Gaussians with camera z <= near_plane are dropped.
        coc_px: optional [N] per-Gaussian CoC radius in pixels, same dtype and device as ``means3d``.

    Returns:
        color [H,W,C]; depth [H,W], the alpha-weighted expected depth sum(z_i w_i) / sum(w_i) (SDNet eq. 13),
        0 where nothing was drawn; alpha [H,W] = sum(w_i), with w_i = alpha_i T_i.
    """
    _check_tensor('means3d', means3d, (None, 3), None)
    n = means3d.shape[0]
    _check_tensor('scales', scales, (n, 3), means3d)
    _check_tensor('quats', quats, (n, 4), means3d)
    _check_tensor('opacities', opacities, (n,), means3d)
    if colors is None or not isinstance(colors, torch.Tensor) or colors.dim() != 2:
        raise ValueError(f'colors must be a [N,C] tensor, got {getattr(colors, "shape", type(colors).__name__)}')
    _check_tensor('colors', colors, (n, colors.shape[1]), means3d)
    if colors.shape[1] < 1:
        raise ValueError('colors must have at least one channel')
    _check_tensor('viewmat', viewmat, (4, 4), means3d)
    _check_tensor('K', K, (3, 3), means3d)
    if n and bool((quats.detach().norm(dim=-1) == 0).any()):
        raise ValueError('quats contains a zero quaternion')
    for name, v in (('width', width), ('height', height), ('tile_size', tile_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0 or v > 16384:
            raise ValueError(f'{name} must be an integer in [1, 16384], got {v!r}')
    if coc_px is None:
        _check_scalar('focus_dist', focus_dist, positive=True)
        _check_scalar('coc_strength', coc_strength, positive=False)
    else:
        _check_tensor('coc_px', coc_px, (n,), means3d)
        if bool((coc_px.detach() < 0).any()):
            raise ValueError(f'coc_px must be >= 0, got a minimum of {float(coc_px.detach().min())}')
        if focus_dist is not None:
            _check_scalar('focus_dist', focus_dist, positive=True)
        if coc_strength is not None:
            _check_scalar('coc_strength', coc_strength, positive=False)
    _check_scalar('near_plane', near_plane, positive=True)
    _check_scalar('eps2d', eps2d, positive=False)
    if background is not None:
        _check_tensor('background', background, (colors.shape[1],), means3d)
    which = resolve_impl(impl, means3d.device)
    proj = project_gaussians(means3d, scales, quats, opacities, colors, viewmat, K, focus_dist, coc_strength,
                             near_plane, eps2d, coc_px=coc_px)
    m = proj.means2d.shape[0]
    if m == 0:
        color = colors.new_zeros(height, width, colors.shape[1]) + 0 * colors.sum()
        acc_depth = color.new_zeros(height, width)
        alpha = color.new_zeros(height, width)
    elif which == 'reference':
        color, acc_depth, alpha = composite_reference(proj.means2d, proj.conics, proj.opacities, proj.colors,
                                                      proj.depths, width, height)
    else:
        if which == 'cuda' and torch.is_grad_enabled() and any(
                t.requires_grad for t in (proj.means2d, proj.conics, proj.opacities, proj.colors, proj.depths)):
            alert_not_deterministic('rasterize_gaussians_dof (backward)')
        offsets, ids = bin_tiles(proj.means2d.detach(), proj.extents, width, height, tile_size)
        color, acc_depth, alpha = _CompositeFunction.apply(proj.means2d.contiguous(), proj.conics.contiguous(),
                                                           proj.opacities.contiguous(), proj.colors.contiguous(),
                                                           proj.depths.contiguous(), offsets, ids,
                                                           load_extension(which), width, height, tile_size)
    drawn = alpha > 1e-6
    depth = torch.where(drawn, acc_depth / torch.where(drawn, alpha, torch.ones_like(alpha)), torch.zeros_like(alpha))
    if background is not None:
        color = color + (1 - alpha).unsqueeze(-1) * background
    return color, depth, alpha
