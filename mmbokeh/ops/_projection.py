"""Projection of 3D Gaussians with depth of field, and their binning into screen tiles (device-agnostic PyTorch).

Shared by every implementation of :func:`mmbokeh.ops.rasterize_gaussians_dof`; autograd differentiates it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch

#: A uniform disc of radius c is approximated by an isotropic gaussian of variance c^2 / (2 ln 4) (DOF-GS).
COC_VARIANCE_DIVISOR = 2 * math.log(4.0)
MIN_ALPHA = 1.0 / 255.0

Scalar = Union[float, torch.Tensor]


@dataclass
class Projected:
    """Visible Gaussians in screen space, sorted front to back (index 0 nearest).

    means2d [M,2] px, conics [M,3] (a, b, c) of the inverse widened covariance, opacities [M] after the
    energy-keeping rescale, colors [M,C], depths [M] camera z (m), coc [M] CoC radius (px), extents [M,2] half sizes
    (px) of the boxes outside which alpha < 1/255, ids [M] indices into the input Gaussians.
    """
    means2d: torch.Tensor
    conics: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor
    depths: torch.Tensor
    coc: torch.Tensor
    extents: torch.Tensor
    ids: torch.Tensor


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """[N,4] quaternions (w, x, y, z), normalised here, to [N,3,3] rotation matrices."""
    w, x, y, z = torch.unbind(quats / quats.norm(dim=-1, keepdim=True), dim=-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    ], dim=-1).reshape(-1, 3, 3)


def project_gaussians(means3d: torch.Tensor, scales: torch.Tensor, quats: torch.Tensor, opacities: torch.Tensor,
                      colors: torch.Tensor, viewmat: torch.Tensor, K: torch.Tensor, focus_dist: Optional[Scalar],
                      coc_strength: Optional[Scalar], near_plane: float, eps2d: float,
                      coc_px: Optional[torch.Tensor] = None) -> Projected:
    """Project, widen each 2D covariance by its CoC, keep its energy, cull and sort front to back.

    The CoC radius of a Gaussian at camera depth z is ``coc = coc_strength * |1/z - 1/focus_dist|`` (px; the
    calibrated K of :mod:`mmbokeh.optics`), or ``coc_px[i]`` when a per-Gaussian radius [N] is given (then
    ``focus_dist`` and ``coc_strength`` are not used). Its 2D covariance S = J W Sigma W^T J^T + eps2d I becomes
    S' = S + a I with a = coc^2 / (2 ln 4): convolving the unnormalised splat ``o exp(-x^T S^-1 x / 2)`` with the
    normalised kernel N(0, a I) gives ``o sqrt(det S / det S') exp(-x^T S'^-1 x / 2)``, so the opacity is scaled by
    sqrt(det S / det S') and the integral of opacity x footprint, the energy it deposits, stays the same. The
    variance a = c^2 / (2 ln 4) makes the kernel ``exp(-r^2 / (2 a))`` fall to 1/4 at r = c (DOF-GS's constant as
    SDNet quotes it, the square restored; see docs/ops.md).
    """
    rot = viewmat[:3, :3]
    p = means3d @ rot.T + viewmat[:3, 3]
    z = p[:, 2]
    keep = z > near_plane
    idx = torch.nonzero(keep).squeeze(1)
    p, z = p[idx], z[idx]
    m = quat_to_rotmat(quats[idx]) * scales[idx].unsqueeze(1)
    cov_cam = rot @ (m @ m.transpose(1, 2)) @ rot.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    zero = torch.zeros_like(z)
    jac = torch.stack([fx / z, zero, -fx * p[:, 0] / (z * z), zero, fy / z, -fy * p[:, 1] / (z * z)],
                      dim=-1).reshape(-1, 2, 3)
    cov2d = jac @ cov_cam @ jac.transpose(1, 2)
    sxx, sxy, syy = cov2d[:, 0, 0] + eps2d, cov2d[:, 0, 1], cov2d[:, 1, 1] + eps2d
    if coc_px is None:
        inv_depth_gap = 1.0 / z - 1.0 / focus_dist
        coc = coc_strength * inv_depth_gap.abs()
        widen = (coc_strength * inv_depth_gap)**2 / COC_VARIANCE_DIVISOR
    else:
        coc = coc_px[idx]
        widen = coc * coc / COC_VARIANCE_DIVISOR
    det = sxx * syy - sxy * sxy
    wxx, wyy = sxx + widen, syy + widen
    wdet = wxx * wyy - sxy * sxy
    opac = opacities[idx] * torch.sqrt(det / wdet)
    conics = torch.stack([wyy / wdet, -sxy / wdet, wxx / wdet], dim=-1)
    means2d = torch.stack([fx * p[:, 0] / z + cx, fy * p[:, 1] / z + cy], dim=-1)
    with torch.no_grad():
        level = torch.log(255.0 * opac.clamp_min(1e-30))
        visible = (level > 0) & (det > 0)
        ext = torch.sqrt(2 * level.clamp_min(0).unsqueeze(-1) * torch.stack([wxx, wyy], -1).clamp_min(0)) + 1.0
    sel = torch.nonzero(visible).squeeze(1)
    order = sel[torch.argsort(z[sel].detach(), stable=True)]
    return Projected(means2d[order], conics[order], opac[order], colors[idx][order], z[order], coc[order],
                     ext[order], idx[order])


def bin_tiles(means2d: torch.Tensor, extents: torch.Tensor, width: int, height: int,
              tile_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Lists of the Gaussians (front to back, by index) whose boxes touch each tile.

    Returns:
        tile_offsets [n_tiles + 1] int32 (tile t owns flat_ids[offsets[t]:offsets[t+1]], tiles row-major) and
        flat_ids [n_pairs] int32.
    """
    device = means2d.device
    ntx, nty = (width + tile_size - 1) // tile_size, (height + tile_size - 1) // tile_size
    n = means2d.shape[0]
    with torch.no_grad():
        lo = torch.floor((means2d - extents) / tile_size).long()
        hi = torch.floor((means2d + extents) / tile_size).long() + 1
        tx0, tx1 = lo[:, 0].clamp(0, ntx), hi[:, 0].clamp(0, ntx)
        ty0, ty1 = lo[:, 1].clamp(0, nty), hi[:, 1].clamp(0, nty)
        nx, ny = (tx1 - tx0).clamp_min(0), (ty1 - ty0).clamp_min(0)
        counts = nx * ny
        total = int(counts.sum())
        gid = torch.repeat_interleave(torch.arange(n, device=device), counts)
        local = torch.arange(total, device=device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        tiles = (ty0[gid] + local // nx[gid]) * ntx + tx0[gid] + local % nx[gid]
        keys = torch.sort(tiles * max(n, 1) + gid).values
        flat_ids = (keys % max(n, 1)).to(torch.int32)
        per_tile = torch.bincount(tiles, minlength=ntx * nty)
        offsets = torch.zeros(ntx * nty + 1, dtype=torch.int64, device=device)
        offsets[1:] = torch.cumsum(per_tile, 0)
    return offsets.to(torch.int32), flat_ids
