"""SDNet's Gaussian-splat depth-of-field branch (section III-D): Gaussians from a depth map or a COLMAP model,
rendering with per-Gaussian CoC radii or a CoC map, the registered ``GaussianDoFRenderer`` and per-scene fitting.
See docs/ops.md, "Gaussian-splat depth of field"."""
from .colmap import gaussians_from_colmap, intrinsics_from_colmap, knn_mean_distance
from .fitting import DEFAULT_LR, fit_gaussians
from .gaussians import GaussianParams, gaussians_from_depth, intrinsics_from_camera
from .renderer import GaussianDoFRenderer, render_dof, sample_coc_map

__all__ = [
    'GaussianParams', 'intrinsics_from_camera', 'gaussians_from_depth', 'gaussians_from_colmap',
    'intrinsics_from_colmap', 'knn_mean_distance', 'render_dof', 'sample_coc_map', 'GaussianDoFRenderer',
    'fit_gaussians', 'DEFAULT_LR'
]
