"""Depth-of-field rendering of 3D Gaussians driven by a CoC map (SDNet, section III-D, eqs. 10-13)."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from mmbokeh.ops import rasterize_gaussians_dof
from mmbokeh.registry import MODELS

from .gaussians import GaussianParams, gaussians_from_depth


def sample_coc_map(coc_map: torch.Tensor, means3d: torch.Tensor, viewmat: torch.Tensor, intrinsics: torch.Tensor,
                   near_plane: float = 0.01) -> torch.Tensor:
    """Per-Gaussian CoC radii [N]: ``coc_map`` [1,H,W] sampled bilinearly at each projected centre.

    The centre (u, v) = (fx X / Z + cx, fy Y / Z + cy) is in the op's pixel coordinates (pixel x's centre at
    x + 0.5), which ``grid_sample(align_corners=False)`` addresses as ``2 u / W - 1``; centres outside the image take
    the border value (``padding_mode='border'``). Gradients reach the map and, through the sampling position, the
    means and the camera. Gaussians at Z <= near_plane (culled by the renderer) are sampled at a clamped depth.
    """
    h, w = coc_map.shape[-2:]
    p = means3d @ viewmat[:3, :3].T + viewmat[:3, 3]
    z = p[:, 2].clamp_min(near_plane)
    u = intrinsics[0, 0] * p[:, 0] / z + intrinsics[0, 2]
    v = intrinsics[1, 1] * p[:, 1] / z + intrinsics[1, 2]
    grid = torch.stack([2 * u / w - 1, 2 * v / h - 1], dim=-1).clamp(-2, 2).view(1, 1, -1, 2)
    out = F.grid_sample(coc_map.reshape(1, 1, h, w).to(means3d.dtype), grid, mode='bilinear', padding_mode='border',
                        align_corners=False)
    return out.reshape(-1)


def render_dof(params: GaussianParams,
               viewmat: torch.Tensor,
               intrinsics: torch.Tensor,
               width: int,
               height: int,
               coc_map: Optional[torch.Tensor] = None,
               coc_px: Optional[torch.Tensor] = None,
               background: Optional[torch.Tensor] = None,
               impl: Optional[str] = None,
               eps2d: float = 0.3,
               near_plane: float = 0.01,
               tile_size: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render Gaussians with a per-Gaussian circle of confusion, channels first.

    The CoC of Gaussian i is ``coc_px[i]`` (px), or ``coc_map`` [1,H,W] (px, >= 0) sampled bilinearly at its
    projected centre (:func:`sample_coc_map`; this is how SDNet's predicted CoC drives the rendering and receives
    its gradient), or 0 (pinhole) when neither is given. Each projected covariance S becomes S + a I with
    a = coc^2 / (2 ln 4) (the kernel falls to 1/4 at r = coc) and its opacity is scaled by
    sqrt(det S / det(S + a I)), the convolution of the unnormalised splat with N(0, a I) (docs/ops.md).

    ``tile_size`` (binning of the compiled compositors) defaults to 4 on CPU tensors and 16 on CUDA: the CPU kernel
    evaluates every Gaussian of a tile's list at every pixel of the tile, so small tiles are about 2x faster for
    dense one-per-pixel clouds (docs/ops.md, "Gaussian-splat depth of field"); the CUDA kernel runs one thread per
    pixel of a tile and wants 16.

    Returns:
        color [C,H,W] (plus ``(1 - alpha) * background``), depth [1,H,W] = sum z_i w_i / sum w_i (SDNet eq. 13,
        normalised by alpha; 0 where nothing was drawn), alpha [1,H,W] = sum w_i, w_i = alpha_i T_i.
    """
    if coc_map is not None and coc_px is not None:
        raise ValueError('pass coc_map or coc_px, not both')
    if coc_map is not None:
        if not isinstance(coc_map, torch.Tensor) or coc_map.shape not in ((1, height, width), (height, width)):
            raise ValueError(f'coc_map must have shape [1,{height},{width}], got '
                             f'{getattr(coc_map, "shape", type(coc_map).__name__)}')
        if not bool(torch.isfinite(coc_map).all()) or bool((coc_map.detach() < 0).any()):
            raise ValueError('coc_map must be finite and >= 0')
        coc_px = sample_coc_map(coc_map, params.means3d, viewmat, intrinsics, near_plane)
    elif coc_px is None:
        coc_px = params.means3d.new_zeros(len(params))
    if tile_size is None:
        tile_size = 16 if params.means3d.is_cuda else 4
    color, depth, alpha = rasterize_gaussians_dof(params.means3d, params.scales, params.quats, params.opacities,
                                                  params.colors, viewmat, intrinsics, width, height, None, None,
                                                  background=background, near_plane=near_plane, eps2d=eps2d,
                                                  tile_size=tile_size, impl=impl, coc_px=coc_px)
    return color.permute(2, 0, 1), depth.unsqueeze(0), alpha.unsqueeze(0)


@MODELS.register_module()
class GaussianDoFRenderer(nn.Module):
    """SDNet's Gaussian-splat branch: splat an image onto its depth, render it defocused with predicted CoC maps.

    For each sample, one isotropic Gaussian per (``stride``-th) pixel is built from ``(image, init_depth)`` with
    :func:`gaussians_from_depth` (camera = world, pixels with depth <= 0 or non-finite dropped) and rendered once
    per view with that view's CoC map (:func:`render_dof`). Gradients reach ``image``, ``init_depth`` and ``coc``.
    The module has no parameters.

    Args:
        stride: pixel step of the Gaussians. opacity: their opacity. scale_mult: their scale in pixel footprints.
        impl: compositing implementation of the op (``None``: automatic). background: optional [C] colour.
        eps2d: screen-space variance (px^2) added to every projected Gaussian (the op's low-pass filter).
        fill_empty: where a view draws nothing (alpha <= 1e-6, rendered depth 0) output ``init_depth`` instead.
    """

    def __init__(self,
                 stride: int = 1,
                 opacity: float = 0.95,
                 scale_mult: float = 0.5,
                 impl: Optional[str] = None,
                 background: Optional[Tuple[float, ...]] = None,
                 eps2d: float = 0.3,
                 fill_empty: bool = False) -> None:
        super().__init__()
        self.stride, self.opacity, self.scale_mult = stride, opacity, scale_mult
        self.impl, self.eps2d, self.fill_empty = impl, eps2d, fill_empty
        self.background = None if background is None else tuple(float(b) for b in background)

    def forward(self, image: torch.Tensor, init_depth: torch.Tensor, coc: torch.Tensor,
                intrinsics: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Render S defocused views of each sample.

        Args:
            image: [B,C,H,W] in [0, 1]. init_depth: [B,1,H,W] metres. coc: [B,S,1,H,W] CoC radii in px (>= 0).
            intrinsics: [B,3,3] pixels (principal point in the op's convention, e.g. ``intrinsics_from_camera``).

        Returns:
            dict(images [B,S,C,H,W], depth [B,S,1,H,W] (eq. 13 per view, 0 where nothing was drawn unless
            ``fill_empty``), alpha [B,S,1,H,W]).
        """
        if image.dim() != 4:
            raise ValueError(f'image must be [B,C,H,W], got {tuple(image.shape)}')
        b, c, h, w = image.shape
        if init_depth.shape != (b, 1, h, w):
            raise ValueError(f'init_depth must be [{b},1,{h},{w}], got {tuple(init_depth.shape)}')
        if coc.dim() != 5 or coc.shape[0] != b or coc.shape[2:] != (1, h, w):
            raise ValueError(f'coc must be [{b},S,1,{h},{w}], got {tuple(coc.shape)}')
        if intrinsics.shape != (b, 3, 3):
            raise ValueError(f'intrinsics must be [{b},3,3], got {tuple(intrinsics.shape)}')
        viewmat = torch.eye(4, dtype=image.dtype, device=image.device)
        bg = None if self.background is None else image.new_tensor(self.background)
        images, depths, alphas = [], [], []
        for i in range(b):
            K = intrinsics[i].to(image.dtype)
            params = gaussians_from_depth(image[i], init_depth[i], K, self.stride, self.opacity, self.scale_mult)
            views = [
                render_dof(params, viewmat, K, w, h, coc_map=coc[i, s], background=bg, impl=self.impl,
                           eps2d=self.eps2d) for s in range(coc.shape[1])
            ]
            color, depth, alpha = (torch.stack(t) for t in zip(*views))
            if self.fill_empty:
                depth = torch.where(alpha > 1e-6, depth, init_depth[i].to(depth.dtype).expand_as(depth))
            images.append(color)
            depths.append(depth)
            alphas.append(alpha)
        return dict(images=torch.stack(images), depth=torch.stack(depths), alpha=torch.stack(alphas))
