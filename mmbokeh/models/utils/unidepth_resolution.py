"""UniDepthV2's input-size rule (official ``get_paddings`` / ``get_resize_factor`` of
``UniDepth/unidepth/models/unidepthv2/unidepthv2_DSFA.py``): pad to an aspect-ratio range, then resize isotropically
into a pixel-count range with sides rounded up to multiples of 14."""
import math
from typing import Optional, Sequence, Tuple

#: Official inference shape constraints (``data.augmentations.shape_constraints``).
RATIO_BOUNDS = (0.5, 2.5)
PIXELS_BOUNDS = (200000, 600000)


def pixel_bounds(resolution_level: Optional[float] = None,
                 bounds: Sequence[int] = PIXELS_BOUNDS) -> Tuple[float, float]:
    """Pixel-count range; ``resolution_level`` L in [0, 10) selects the L-th tenth of ``bounds`` (official)."""
    if resolution_level is None:
        return float(bounds[0]), float(bounds[1])
    if not 0 <= resolution_level < 10:
        raise ValueError(f'resolution_level must be in [0, 10), got {resolution_level}')
    step = (bounds[1] - bounds[0]) / 10
    return bounds[0] + resolution_level * step, bounds[0] + (resolution_level + 1) * step


def aspect_paddings(size: Tuple[int, int], ratio_bounds: Sequence[float] = RATIO_BOUNDS
                    ) -> Tuple[Tuple[int, int, int, int], Tuple[int, int]]:
    """Symmetric zero padding (left, right, top, bottom) that brings W / H into ``ratio_bounds``, and the padded
    (H, W)."""
    h, w = size
    ratio = w / h
    target = min(ratio_bounds[1], max(ratio_bounds[0], ratio))
    if ratio > target:  # too wide: pad rows
        new_h = int(w / target)
        top = (new_h - h) // 2
        return (0, 0, top, new_h - h - top), (new_h, w)
    new_w = int(h * target)
    left = (new_w - w) // 2
    return (left, new_w - w - left, 0, 0), (h, new_w)


def resize_to_pixels(size: Tuple[int, int], bounds: Sequence[float] = PIXELS_BOUNDS,
                     multiple: int = 14) -> Tuple[float, Tuple[int, int]]:
    """Isotropic factor ``sqrt(target / (H W))`` with ``target = clamp(H W, bounds)`` and the network size: each side
    ``ceil(int(side * factor) / multiple) * multiple`` (so the aspect ratio may change slightly; cameras are scaled by
    the factor only, as in the official code)."""
    h, w = size
    target = min(bounds[1], max(bounds[0], h * w))
    factor = (target / (h * w)) ** 0.5
    return factor, (math.ceil(int(h * factor) / multiple) * multiple,
                    math.ceil(int(w * factor) / multiple) * multiple)
