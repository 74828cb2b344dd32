"""Thin-lens physics: circle of confusion, calibrated bokeh strength K, camera presets.

Units everywhere: depth, focus distance, focal length and pixel pitch in metres; the f-number N is unitless;
radii of the circle of confusion (CoC) in pixels; K in pixels x metres.

- SDNet eq. 2: ``coc = |d - s| / d * f^2 / (N (s - f)) / (2 p)`` (radius in pixels).
- BokehDepth's calibrated strength: ``coc = K |1/d - 1/s|`` with ``K = f^2 s / (2 N (s - f) p)``.
- Signed defocus ``K (1/d - 1/s)``: positive in front of the focus plane, negative behind it; the ops use the sign
  to order occluders.

Every function accepts Python floats, numpy arrays and torch tensors (broadcasting as usual) and keeps torch
autograd intact. Invalid optics raise ``ValueError`` naming the parameter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Tuple, Union

import numpy as np
import torch

Number = Union[float, int, np.ndarray, torch.Tensor]

#: Diagonal of the 35 mm full frame in millimetres as the official BokehDepth code rounds it.
FULL_FRAME_DIAGONAL_MM = 43.27

__all__ = [
    'CameraPreset', 'CAMERA_PRESETS', 'NYUV2_FOCAL_STACK', 'FOD500', 'DEFOCUSNET_DERED', 'coc_radius_px',
    'get_camera_preset', 'k_from_camera', 'depth_from_signed_defocus', 'k_from_exif', 'sensor_width_from_exif',
    'signed_defocus'
]


def _values(x: Any) -> np.ndarray:
    """Return ``x`` as a float64 numpy array for validation only (never used in the computation)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to('cpu', torch.float64).numpy()
    if isinstance(x, (bool, np.bool_)):
        raise TypeError('expected a number, got a bool')
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f'expected a float, numpy array or torch tensor, got {type(x).__name__}') from exc


def _check(name: str, x: Any, positive: bool = True) -> None:
    """Raise ``ValueError`` naming ``name`` unless every value of ``x`` is finite (and > 0 if ``positive``)."""
    try:
        v = _values(x)
    except TypeError as exc:
        raise TypeError(f'{name}: {exc}') from None
    if v.size == 0:
        raise ValueError(f'{name} is empty')
    if not np.all(np.isfinite(v)):
        raise ValueError(f'{name} must be finite, got {v.ravel()[~np.isfinite(v.ravel())][0]!r}')
    if positive and not np.all(v > 0):
        raise ValueError(f'{name} must be > 0, got {float(v.min())!r}')


def _check_focus(focus_dist: Any, focal_length: Any) -> None:
    """Focus must lie beyond the focal length (a real image behind the lens)."""
    _check('focus_dist', focus_dist)
    _check('focal_length', focal_length)
    if not np.all(_values(focus_dist) > _values(focal_length)):
        raise ValueError(f'focus_dist must exceed focal_length (got focus_dist={float(_values(focus_dist).min())!r} '
                         f'<= focal_length={float(_values(focal_length).max())!r}); both in metres')


def coc_radius_px(depth: Number, focus_dist: Number, focal_length: Number, f_number: Number,
                  pixel_size: Number) -> Number:
    """CoC radius in pixels, SDNet eq. 2: ``|d - s| / d * f^2 / (N (s - f)) / (2 p)``.

    Args:
        depth: scene depth d in metres, any shape, > 0.
        focus_dist: focus distance s in metres, > focal_length.
        focal_length: f in metres.
        f_number: N, > 0.
        pixel_size: pixel pitch p in metres, > 0.

    Returns:
        Radius in pixels with the broadcast shape (zero on the focus plane).
    """
    _check('depth', depth)
    _check_focus(focus_dist, focal_length)
    _check('f_number', f_number)
    _check('pixel_size', pixel_size)
    return abs(depth - focus_dist) / depth * focal_length**2 / (f_number * (focus_dist - focal_length)) / (2 *
                                                                                                           pixel_size)


def k_from_camera(focal_length: Number, f_number: Number, focus_dist: Number, pixel_size: Number) -> Number:
    """Calibrated strength ``K = f^2 s / (2 N (s - f) p)`` (pixels x metres), so that ``coc = K |1/d - 1/s|``."""
    _check_focus(focus_dist, focal_length)
    _check('f_number', f_number)
    _check('pixel_size', pixel_size)
    return focal_length**2 * focus_dist / (2 * f_number * (focus_dist - focal_length) * pixel_size)


def sensor_width_from_exif(focal_mm: float, focal_35mm: float, width: int, height: int) -> float:
    """Sensor width in mm from the 35 mm equivalent focal length, as BokehDepth's Stage 1 estimates it.

    The sensor diagonal is the full-frame diagonal (43.27 mm) divided by the crop factor ``focal_35mm / focal_mm``;
    the width follows from the image aspect ratio ``width / height`` (``width`` is the image's horizontal size).
    """
    _check('focal_mm', focal_mm)
    _check('focal_35mm', focal_35mm)
    for name, v in (('width', width), ('height', height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f'{name} must be a positive integer number of pixels, got {v!r}')
    diagonal = FULL_FRAME_DIAGONAL_MM * focal_mm / focal_35mm
    return diagonal / math.sqrt(1.0 + (height / width)**2)


def k_from_exif(f_number: float, focal_mm: float, focal_35mm: float, focus_dist: float, width: int,
                height: int) -> float:
    """BokehDepth's official Stage-1 calibration of K from EXIF values (pixels x metres).

    ``K = |f^2 s / (2 N (s - f))| * 1000 * (width / sensor_width_mm)`` with f = focal_mm / 1000 and s in metres, and
    the sensor width from :func:`sensor_width_from_exif`. Equals :func:`k_from_camera` with the pixel pitch
    ``sensor_width_mm / 1000 / width``.

    Args:
        f_number: N from EXIF ``FNumber``.
        focal_mm: real focal length in mm (EXIF ``FocalLength``).
        focal_35mm: 35 mm equivalent focal length in mm (EXIF ``FocalLengthIn35mmFilm``).
        focus_dist: focus distance in metres (> focal length).
        width: image width in pixels.
        height: image height in pixels.
    """
    _check('f_number', f_number)
    sensor_w = sensor_width_from_exif(focal_mm, focal_35mm, width, height)
    f = focal_mm * 1e-3
    _check_focus(focus_dist, f)
    return abs(f**2 * focus_dist / (2 * f_number * (focus_dist - f))) * 1000.0 * (width / sensor_w)


def signed_defocus(depth: Number, focus: Number, k: Number) -> Number:
    """Signed CoC radius in pixels ``K (1/d - 1/s)``: > 0 in front of the focus plane, < 0 behind.

    Args:
        depth: d in metres, > 0.
        focus: focus distance s in metres, > 0.
        k: calibrated strength K (pixels x metres), >= 0.
    """
    _check('depth', depth)
    _check('focus', focus)
    _check('k', k, positive=False)
    if not np.all(_values(k) >= 0):
        raise ValueError(f'k must be >= 0, got {float(_values(k).min())!r}')
    return k * (1.0 / depth - 1.0 / focus)


def depth_from_signed_defocus(coc: torch.Tensor, focus: torch.Tensor, k: torch.Tensor, min_depth: float,
                              max_depth: float) -> torch.Tensor:
    """Invert :func:`signed_defocus`: the thin-lens depth ``d = 1 / (1/s + c / K)`` of a signed CoC ``c`` (px).

    The inverse depth is clamped to ``[1 / max_depth, 1 / min_depth]`` before inverting (a CoC beyond what the
    depth range allows, or an in-focus pixel of a lens with K = 0, gives the nearest bound). Differentiable in
    ``coc`` (and ``focus``, ``k``) inside the bounds; tensors broadcast.

    Args:
        coc: signed CoC radius in pixels, > 0 in front of the focus plane.
        focus: focus distance s in metres, > 0.
        k: calibrated strength K in pixels x metres, > 0.
        min_depth, max_depth: metres, 0 < min_depth < max_depth.
    """
    if not 0 < min_depth < max_depth:
        raise ValueError(f'need 0 < min_depth < max_depth (metres), got {min_depth!r}, {max_depth!r}')
    inv = 1.0 / focus + coc / k.clamp(min=1e-12)
    return 1.0 / inv.clamp(min=1.0 / max_depth, max=1.0 / min_depth)


@dataclass(frozen=True)
class CameraPreset:
    """A thin-lens camera with the focus distances of a focal-stack dataset.

    Attributes:
        name: key in :data:`CAMERA_PRESETS`.
        focal_length: f in metres.
        f_number: N.
        pixel_size: pixel pitch in metres at ``image_size``.
        focus_distances: focus distance of each stack level in metres.
        max_depth: depth cap of the dataset in metres.
        image_size: (height, width) in pixels at which ``pixel_size`` holds.
        source: where the numbers come from.
    """
    name: str
    focal_length: float
    f_number: float
    pixel_size: float
    focus_distances: Tuple[float, ...]
    max_depth: float
    image_size: Tuple[int, int]
    source: str

    def __post_init__(self) -> None:
        for s in self.focus_distances:
            _check_focus(s, self.focal_length)
        _check('f_number', self.f_number)
        _check('pixel_size', self.pixel_size)

    def coc_radius_px(self, depth: Number, focus_dist: Number) -> Number:
        """CoC radius in pixels of ``depth`` (m) when focused at ``focus_dist`` (m)."""
        return coc_radius_px(depth, focus_dist, self.focal_length, self.f_number, self.pixel_size)

    def k(self, focus_dist: Number) -> Number:
        """Calibrated strength K (pixels x metres) at ``focus_dist``."""
        return k_from_camera(self.focal_length, self.f_number, focus_dist, self.pixel_size)

    def k_values(self) -> Tuple[float, ...]:
        """K of every stack level, in the order of ``focus_distances``."""
        return tuple(float(self.k(s)) for s in self.focus_distances)

    def rescaled(self, height: int, width: int) -> 'CameraPreset':
        """The same camera imaged at another resolution (pixel pitch scales with the width)."""
        if height <= 0 or width <= 0:
            raise ValueError(f'height and width must be positive, got {height}x{width}')
        pitch = self.pixel_size * self.image_size[1] / width
        return CameraPreset(self.name, self.focal_length, self.f_number, pitch, self.focus_distances, self.max_depth,
                            (height, width), self.source)


#: NYUv2 focal stacks as DEReD generates them (and SDNet follows): images at 320x240.
NYUV2_FOCAL_STACK = CameraPreset(
    name='nyuv2',
    focal_length=50e-3,
    f_number=8.0,
    pixel_size=1.2e-5,
    focus_distances=(1.0, 1.5, 2.5, 4.0, 6.0),
    max_depth=10.0,
    image_size=(240, 320),
    source='DEReD camera settings (init_NYUv2: f=50 mm, D=f/8, ps=1.2e-5 m, Df=[1,1.5,2.5,4,6] m)')

#: FoD500 ("fs_6") as released with DefocusNet: 256x256 renders.
FOD500 = CameraPreset(
    name='fod500',
    focal_length=2.9e-3,
    f_number=1.0,
    pixel_size=1.2e-5,
    focus_distances=(0.1, 0.15, 0.3, 0.7, 1.5),
    max_depth=3.0,
    image_size=(256, 256),
    source='DefocusNet README (focus, f=2.9 mm, N=1, depth_max 3 m) and DEReD init_DefocusNet (ps=1.2e-5 m)')

#: DEReD's re-rendered DefocusNet data (a different dataset from FoD500). Unverified against its loader.
DEFOCUSNET_DERED = CameraPreset(
    name='defocusnet_dered',
    focal_length=7.2e-3,
    f_number=1.2,
    pixel_size=5.6e-6,
    focus_distances=(0.3, 0.45, 0.75, 1.2, 1.8),
    max_depth=3.0,
    image_size=(256, 256),
    source='docs/design.md, Reference implementations (not checked against a public loader)')

CAMERA_PRESETS: Dict[str, CameraPreset] = {p.name: p for p in (NYUV2_FOCAL_STACK, FOD500, DEFOCUSNET_DERED)}


def get_camera_preset(name: str) -> CameraPreset:
    """Look a preset up by name; ``ValueError`` lists the known names."""
    try:
        return CAMERA_PRESETS[name]
    except KeyError:
        raise ValueError(f'unknown camera preset {name!r}; known: {sorted(CAMERA_PRESETS)}') from None
