"""Camera rays of a pinhole camera and UniDepthV2's ray embedding (sine Fourier features of polar and azimuth).

Pixel centres are at ``(u + 0.5, v + 0.5)`` here, as in UniDepth (``UniDepth/unidepth/utils/coordinate.py``); the
estimator converts mmbokeh's ``cam_intrinsics`` (centres at integer coordinates) before calling these functions.
"""
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def pixel_grid(size: Tuple[int, int], device: torch.device) -> torch.Tensor:
    """Homogeneous pixel centres ``(u + 0.5, v + 0.5, 1)`` of an H x W image: [3, H*W], row-major."""
    h, w = size
    v, u = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32) + 0.5,
                          torch.arange(w, device=device, dtype=torch.float32) + 0.5, indexing='ij')
    return torch.stack([u.flatten(), v.flatten(), torch.ones_like(u).flatten()])


def rays_from_intrinsics(intrinsics: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Unit rays of a given camera, as the official ``Pinhole.unproject`` + ``get_rays`` (``torch.inverse`` of K,
    divide by z clamped at 1e-4, unit length clamped at 1e-4). intrinsics [B, 3, 3] -> rays [B, 3, H, W]."""
    xyz = torch.inverse(intrinsics.float()) @ pixel_grid(size, intrinsics.device)
    xyz = xyz / xyz[:, 2:].clamp_min(1e-4)
    xyz = xyz / xyz.norm(dim=1, keepdim=True).clamp_min(1e-4)
    return xyz.unflatten(-1, tuple(size))


def rays_from_params(params: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Unit rays of predicted ``(fx, fy, cx, cy)`` [B, 4] (pixels), with the analytic inverse of K and unit length
    clamped at 1e-5 (official ``Decoder.run_camera``) -> [B, 3, H, W]."""
    fx, fy, cx, cy = params.unbind(-1)
    grid = pixel_grid(size, params.device).to(params.dtype)
    x = (grid[0] - cx[:, None]) / fx[:, None]
    y = (grid[1] - cy[:, None]) / fy[:, None]
    xyz = torch.stack([x, y, torch.ones_like(x)], dim=1)
    xyz = xyz / xyz.norm(dim=1, keepdim=True).clamp_min(1e-5)
    return xyz.unflatten(-1, tuple(size))


def sine_fourier_features(x: torch.Tensor, dim: int, max_freq: int) -> torch.Tensor:
    """``sin(pi * x * f)`` for ``dim // C`` frequencies ``f = 2 ** linspace(0, log2(max_freq))`` per input channel
    (official ``generate_fourier_features(use_log=True, use_cos=False)``). x [..., C] -> [..., C * (dim // C)],
    the frequencies of each channel contiguous."""
    if max_freq < 1:
        raise ValueError(f'max_freq must be >= 1 (a token grid of at least 2 per side), got {max_freq}')
    bands = dim // x.shape[-1]
    scales = 2.0 ** torch.linspace(0.0, math.log2(max_freq), steps=bands, device=x.device, dtype=x.dtype)
    return (x[..., None] * scales * math.pi).sin().flatten(-2)


class RayEmbedding(nn.Module):
    """Embedding of per-pixel camera rays on the token grid (official ``DepthHead.embed_rays``).

    The rays are resized to the grid (bilinear, antialiased, align_corners=False; skipped when the sizes match),
    re-normalised (clamp 1e-4), turned into polar = acos(z) and azimuth = atan2(y, x) (|x| clamped at 1e-3, its sign
    kept) and encoded by :func:`sine_fourier_features` with ``max_freq = max(h, w) // 2``.

    Args:
        dim: embedding width (the decoder's hidden width).

    Forward: rays [B, 3, H, W] unit vectors, grid (h, w) -> [B, h*w, dim].
    """

    def __init__(self, dim: int = 512) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, rays: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        h, w = grid
        if tuple(rays.shape[-2:]) != (h, w):
            rays = F.interpolate(rays, size=(h, w), mode='bilinear', align_corners=False, antialias=True)
        rays = rays.flatten(2).transpose(1, 2)
        rays = rays / rays.norm(dim=-1, keepdim=True).clamp_min(1e-4)
        x, y, z = rays.unbind(-1)
        x_clipped = x.abs().clamp_min(1e-3) * (2 * (x >= 0).to(x.dtype) - 1)
        angles = torch.stack([torch.acos(z), torch.atan2(y, x_clipped)], dim=-1)
        return sine_fourier_features(angles, self.dim, max(h, w) // 2)
