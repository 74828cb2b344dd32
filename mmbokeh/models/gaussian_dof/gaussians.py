"""3D Gaussians for SDNet's depth-of-field splatting branch: the parameter container, pinhole intrinsics in the
pixel-centre convention of :func:`mmbokeh.ops.rasterize_gaussians_dof`, and one Gaussian per pixel of a depth map.

Convention (docs/ops.md): pixel (x, y) covers [x, x + 1) x [y, y + 1) and its centre is (x + 0.5, y + 0.5), so the
image centre is (W / 2, H / 2) and a camera point (X, Y, Z) lands at (fx X / Z + cx, fy Y / Z + cy).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Union

import torch


@dataclass
class GaussianParams:
    """A set of N 3D Gaussians.

    Attributes:
        means3d: [N,3] centres in world space (metres).
        scales: [N,3] standard deviations along the local axes (metres).
        quats: [N,4] rotations (w, x, y, z); the renderer normalises them.
        opacities: [N] in [0, 1].
        colors: [N,C].
    """
    means3d: torch.Tensor
    scales: torch.Tensor
    quats: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means3d.shape[0] if self.means3d.dim() == 2 else -1
        want = dict(means3d=(n, 3), scales=(n, 3), quats=(n, 4), opacities=(n, ), colors=(n, None))
        for name, shape in want.items():
            x = getattr(self, name)
            if not isinstance(x, torch.Tensor):
                raise TypeError(f'{name} must be a torch.Tensor, got {type(x).__name__}')
            if n < 0 or x.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
                expect = ','.join('N' if s == n else ('C' if s is None else str(s)) for s in shape)
                raise ValueError(f'{name} must have shape [{expect}], got {tuple(x.shape)}')

    def __len__(self) -> int:
        return self.means3d.shape[0]

    def map(self, fn) -> 'GaussianParams':
        """A new set with ``fn`` applied to every tensor (e.g. ``lambda t: t.detach().clone()``)."""
        return GaussianParams(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def detach(self) -> 'GaussianParams':
        return self.map(lambda t: t.detach())

    def clone(self) -> 'GaussianParams':
        return self.map(lambda t: t.clone())

    def to(self, *args, **kwargs) -> 'GaussianParams':
        return self.map(lambda t: t.to(*args, **kwargs))

    def __getitem__(self, index) -> 'GaussianParams':
        """The Gaussians selected by ``index`` (a mask, indices or slice along N)."""
        return self.map(lambda t: t[index])


def intrinsics_from_camera(focal_length: float,
                           pixel_size: float,
                           width: int,
                           height: int,
                           dtype: torch.dtype = torch.float32,
                           device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """Pinhole intrinsics [3,3] of a camera with square pixels and the principal point at the image centre.

    ``fx = fy = focal_length / pixel_size`` (both in metres, or any same unit) and ``(cx, cy) = (W / 2, H / 2)``:
    the op puts pixel (x, y)'s centre at (x + 0.5, y + 0.5), so W / 2 is the centre of the image (the same
    convention as COLMAP's).
    """
    for name, v in (('focal_length', focal_length), ('pixel_size', pixel_size)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < float(v) < float('inf')):
            raise ValueError(f'{name} must be a finite number > 0, got {v!r}')
    for name, v in (('width', width), ('height', height)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f'{name} must be a positive integer, got {v!r}')
    f = float(focal_length) / float(pixel_size)
    return torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]], dtype=dtype, device=device)


def _check_intrinsics(K: torch.Tensor) -> None:
    if not isinstance(K, torch.Tensor) or K.shape != (3, 3):
        raise ValueError(f'intrinsics must be a [3,3] tensor, got {getattr(K, "shape", type(K).__name__)}')
    if not bool(torch.isfinite(K).all()) or float(K[0, 0]) <= 0 or float(K[1, 1]) <= 0:
        raise ValueError('intrinsics must be finite with fx, fy > 0')


def gaussians_from_depth(image: torch.Tensor,
                         depth: torch.Tensor,
                         intrinsics: torch.Tensor,
                         stride: int = 1,
                         opacity: float = 0.95,
                         scale_mult: float = 0.5) -> GaussianParams:
    """One isotropic Gaussian per pixel (every ``stride``-th pixel) of a depth map, in camera space.

    The camera is the world (render with ``viewmat = I``). Pixel (x, y) with depth z > 0 becomes a Gaussian at
    ``((x + 0.5 - cx) z / fx, (y + 0.5 - cy) z / fy, z)`` (the op's pixel-centre convention, so it projects back
    onto that pixel's centre), with scale ``z * stride / fx * scale_mult`` on all three axes (``scale_mult`` times
    the pixel footprint: ``scale_mult * stride`` px on screen before the op's ``eps2d``), identity rotation,
    opacity ``opacity`` and the pixel's colour. With ``stride = s`` the pixels taken are
    ``x = (s - 1) // 2 + k s`` (the centre of each s x s block, rounded up-left). Pixels whose depth is <= 0 or
    non-finite are dropped, so N is at most the number of sampled pixels; ``means3d``, ``scales`` and ``colors``
    stay differentiable w.r.t. ``depth`` and ``image``.

    Args:
        image: [C,H,W]. depth: [1,H,W] or [H,W] metres. intrinsics: [3,3] pixels.
        stride: sampling step in pixels (>= 1). opacity: in (0, 1]. scale_mult: > 0.

    Returns:
        GaussianParams with N = number of valid sampled pixels, row-major.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        raise ValueError(f'image must be a [C,H,W] tensor, got {getattr(image, "shape", type(image).__name__)}')
    _, h, w = image.shape
    if not isinstance(depth, torch.Tensor) or depth.shape not in ((1, h, w), (h, w)):
        raise ValueError(f'depth must have shape [1,{h},{w}], got {getattr(depth, "shape", type(depth).__name__)}')
    _check_intrinsics(intrinsics)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f'stride must be an integer >= 1, got {stride!r}')
    if not 0 < opacity <= 1:
        raise ValueError(f'opacity must be in (0, 1], got {opacity!r}')
    if not 0 < scale_mult < float('inf'):
        raise ValueError(f'scale_mult must be finite and > 0, got {scale_mult!r}')
    dtype, device = image.dtype, image.device
    start = (stride - 1) // 2
    z = depth.reshape(h, w)[start::stride, start::stride].to(dtype)
    rgb = image[:, start::stride, start::stride]
    ys = torch.arange(start, h, stride, dtype=dtype, device=device) + 0.5
    xs = torch.arange(start, w, stride, dtype=dtype, device=device) + 0.5
    v, u = torch.meshgrid(ys, xs, indexing='ij')
    K = intrinsics.to(dtype=dtype, device=device)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    valid = (torch.isfinite(z) & (z > 0)).reshape(-1)
    z = z.reshape(-1)[valid]
    u, v = u.reshape(-1)[valid], v.reshape(-1)[valid]
    means = torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=-1)
    scales = (z * (stride * scale_mult) / fx).unsqueeze(-1).expand(-1, 3)
    n = means.shape[0]
    quats = torch.zeros(n, 4, dtype=dtype, device=device)
    quats[:, 0] = 1
    return GaussianParams(means3d=means, scales=scales.contiguous(), quats=quats,
                          opacities=torch.full((n, ), float(opacity), dtype=dtype, device=device),
                          colors=rgb.reshape(rgb.shape[0], -1)[:, valid].T.contiguous())
