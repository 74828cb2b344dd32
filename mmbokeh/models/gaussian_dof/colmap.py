"""Initial Gaussians and camera from a COLMAP sparse model (SDNet initialises its splats from COLMAP, as 3DGS does)."""
from __future__ import annotations

import math
import os
from typing import Optional, Tuple

import numpy as np
import torch

from .gaussians import GaussianParams

#: Camera models whose first parameters are (f | fx, fy), cx, cy; distortion terms after them are ignored.
_PINHOLE_LIKE = {
    'SIMPLE_PINHOLE': 'f',
    'SIMPLE_RADIAL': 'f',
    'RADIAL': 'f',
    'PINHOLE': 'fxfy',
    'OPENCV': 'fxfy',
}


def knn_mean_distance(xyz: torch.Tensor, k: int = 3, chunk: int = 4096) -> torch.Tensor:
    """Mean distance [N] of each point to its ``k`` nearest other points (by rows of ``chunk``, torch.cdist)."""
    n = xyz.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return torch.ones(n, dtype=xyz.dtype, device=xyz.device)
    out = []
    for s in range(0, n, chunk):
        d = torch.cdist(xyz[s:s + chunk], xyz)
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float('inf')
        out.append(d.topk(k, dim=1, largest=False).values.mean(dim=1))
    return torch.cat(out)


def _cam_from_world_matrix(image) -> np.ndarray:
    pose = image.cam_from_world
    if callable(pose):  # a method in pycolmap >= 3.12 (rigs and frames), a property before
        pose = pose()
    m = np.asarray(pose.matrix(), dtype=np.float64)  # [3,4]
    return np.vstack([m, [0.0, 0.0, 0.0, 1.0]])


def intrinsics_from_colmap(camera) -> torch.Tensor:
    """[3,3] intrinsics of a pycolmap camera (float64). COLMAP puts pixel centres at x + 0.5 like the op, so its
    principal point is used as is. Distortion (SIMPLE_RADIAL, RADIAL, OPENCV) is ignored: undistort the images
    first for exact geometry. Other models raise ``ValueError`` naming the model."""
    model = camera.model.name if hasattr(camera.model, 'name') else str(camera.model)
    if model not in _PINHOLE_LIKE:
        raise ValueError(f'unsupported COLMAP camera model {model!r}; supported: {sorted(_PINHOLE_LIKE)} '
                         '(undistort the images, e.g. with colmap image_undistorter)')
    p = [float(v) for v in camera.params]
    fx, fy, rest = (p[0], p[0], p[1:]) if _PINHOLE_LIKE[model] == 'f' else (p[0], p[1], p[2:])
    return torch.tensor([[fx, 0.0, rest[0]], [0.0, fy, rest[1]], [0.0, 0.0, 1.0]], dtype=torch.float64)


def gaussians_from_colmap(model_dir: str,
                          image_name: Optional[str] = None,
                          opacity: float = 0.1,
                          dtype: torch.dtype = torch.float32
                          ) -> Tuple[GaussianParams, torch.Tensor, torch.Tensor, Tuple[int, int]]:
    """3DGS's initialisation from a COLMAP sparse model (binary or text, read with ``pycolmap.Reconstruction``).

    One Gaussian per 3D point: centre ``xyz``, colour ``rgb / 255``, isotropic scale the mean distance to its 3
    nearest neighbours (3DGS's initial scale; at least 1e-7), identity rotation, opacity ``opacity`` (3DGS: 0.1).
    The camera is that of ``image_name`` (default: the registered image with the smallest id): viewmat [4,4] its
    ``cam_from_world`` and intrinsics [3,3] from a PINHOLE, SIMPLE_PINHOLE, SIMPLE_RADIAL, RADIAL or OPENCV camera
    (distortion ignored).

    Returns:
        (GaussianParams, viewmat [4,4], intrinsics [3,3], (width, height)), tensors of ``dtype``.

    Raises:
        FileNotFoundError: ``model_dir`` does not exist or holds no model. KeyError: no image ``image_name``.
        ValueError: no registered image, no 3D point, or an unsupported camera model.
    """
    import pycolmap

    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f'COLMAP model folder not found: {model_dir}')
    names = set(os.listdir(model_dir))
    if not ({'cameras.bin', 'images.bin', 'points3D.bin'} <= names or
            {'cameras.txt', 'images.txt', 'points3D.txt'} <= names):
        raise FileNotFoundError(f'no COLMAP model (cameras, images, points3D .bin or .txt) in {model_dir}')
    rec = pycolmap.Reconstruction(model_dir)
    if image_name is None:
        ids = sorted(int(i) for i in rec.reg_image_ids())
        if not ids:
            raise ValueError(f'the COLMAP model in {model_dir} has no registered image')
        image = rec.image(ids[0])
    else:
        image = rec.find_image_with_name(image_name)
        if image is None:
            raise KeyError(f'image {image_name!r} is not in the COLMAP model {model_dir}')
    camera = rec.camera(image.camera_id)
    K = intrinsics_from_colmap(camera).to(dtype)
    viewmat = torch.from_numpy(_cam_from_world_matrix(image)).to(dtype)
    points = list(rec.points3D.values())
    if not points:
        raise ValueError(f'the COLMAP model in {model_dir} has no 3D point')
    xyz64 = torch.from_numpy(np.stack([np.asarray(p.xyz, dtype=np.float64) for p in points]))
    rgb = torch.from_numpy(np.stack([np.asarray(p.color, dtype=np.float64) for p in points])) / 255.0
    scale = knn_mean_distance(xyz64, 3).clamp_min(1e-7)
    n = xyz64.shape[0]
    quats = torch.zeros(n, 4, dtype=dtype)
    quats[:, 0] = 1
    if not 0 < opacity <= 1 or math.isnan(opacity):
        raise ValueError(f'opacity must be in (0, 1], got {opacity!r}')
    params = GaussianParams(means3d=xyz64.to(dtype), scales=scale.unsqueeze(-1).expand(-1, 3).to(dtype).contiguous(),
                            quats=quats, opacities=torch.full((n, ), float(opacity), dtype=dtype),
                            colors=rgb.to(dtype))
    return params, viewmat, K, (int(camera.width), int(camera.height))
