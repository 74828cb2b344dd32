"""Where the focus plane goes: the focus distance (metres) of a physical bokeh stack.

Modes (``focus`` argument of :class:`BokehStackGenerator`):

- ``'foreground'``: the official BokehDepth choice for its synthetic training renders. Among the valid pixels of the
  foreground mask (``results['fg_mask']`` when present, else the whole image), keep those no farther than the 96th
  depth percentile, take the disparities above their median and focus on the median of those (the near part of the
  foreground). (The official code additionally flattens a thin foreground onto one plane; not reproduced.)
- ``'median'``: the median disparity of all valid pixels, i.e. ``1 / median(1 / d)``.
- a number, or ``dict(mode='fixed', distance=s)``: a fixed distance in metres.
- ``dict(mode='random', range=(near, far))``: uniform in disparity between ``1/far`` and ``1/near`` (equal steps of
  defocus); without ``range``, between the 5th and 95th depth percentiles of the image.
"""
from typing import Any, Dict, Optional, Union

import numpy as np

FOCUS_MODES = ('foreground', 'median', 'fixed', 'random')
FocusSpec = Union[str, float, int, Dict[str, Any]]


def parse_focus(spec: FocusSpec) -> Dict[str, Any]:
    """Normalise a focus spec to ``dict(mode=..., ...)``; raise ``ValueError`` naming what was expected."""
    if isinstance(spec, bool):
        raise ValueError(f'focus must be a mode name, a distance in metres or a dict, got {spec!r}')
    if isinstance(spec, (int, float)):
        spec = dict(mode='fixed', distance=float(spec))
    elif isinstance(spec, str):
        spec = dict(mode=spec)
    elif isinstance(spec, dict):
        spec = dict(spec)
    else:
        raise ValueError(f'focus must be a mode name {FOCUS_MODES}, a distance in metres or a dict, got {spec!r}')
    mode = spec.get('mode')
    if mode not in FOCUS_MODES:
        raise ValueError(f'focus mode must be one of {FOCUS_MODES}, got {mode!r}')
    if mode == 'fixed':
        dist = spec.get('distance')
        if not isinstance(dist, (int, float)) or isinstance(dist, bool) or not np.isfinite(dist) or dist <= 0:
            raise ValueError(f'focus distance must be a positive number of metres, got {dist!r}')
    if mode == 'random' and spec.get('range') is not None:
        rng = spec['range']
        if len(rng) != 2 or not 0 < float(rng[0]) < float(rng[1]):
            raise ValueError(f'focus range must be (near, far) metres with 0 < near < far, got {rng!r}')
    return spec


def _valid(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth) & (depth > 0)


def foreground_disparity(depth: np.ndarray, fg_mask: Optional[np.ndarray] = None) -> float:
    """The official Stage-1 focus disparity (1/metres) of the near part of the foreground, see the module doc."""
    region = _valid(depth)
    if fg_mask is not None:
        if fg_mask.shape != depth.shape:
            raise ValueError(f'fg_mask {fg_mask.shape} is not aligned with the depth map {depth.shape}')
        fg = region & (fg_mask > (127 if fg_mask.dtype == np.uint8 else 0.5))
        region = fg if fg.any() else region
    d = depth[region]
    near = d[d <= np.percentile(d, 96)]
    disp = 1.0 / near
    upper = disp[disp > np.median(disp)]
    return float(np.median(upper if upper.size else disp))


def select_focus(spec: Dict[str, Any], depth: Optional[np.ndarray], rng: np.random.Generator,
                 fg_mask: Optional[np.ndarray] = None) -> float:
    """Focus distance in metres for a parsed ``spec`` (see :func:`parse_focus`).

    Args:
        spec: parsed focus spec.
        depth: (H, W) metres, 0 or non-finite = invalid; needed by every mode but 'fixed' and 'random' with a range.
        rng: random generator (mode 'random').
        fg_mask: optional (H, W) foreground mask for mode 'foreground' (uint8 > 127 or bool/float > 0.5).
    """
    mode = spec['mode']
    if mode == 'fixed':
        return float(spec['distance'])
    if mode == 'random' and spec.get('range') is not None:
        near, far = (float(v) for v in spec['range'])
        return float(1.0 / rng.uniform(1.0 / far, 1.0 / near))
    if depth is None:
        raise ValueError(f'focus mode {mode!r} needs a depth map; give one or use a fixed focus / a random range')
    valid = _valid(depth)
    if not valid.any():
        raise ValueError(f'focus mode {mode!r}: the depth map has no valid pixel (all 0 or non-finite)')
    if mode == 'median':
        return float(1.0 / np.median(1.0 / depth[valid]))
    if mode == 'foreground':
        return float(1.0 / foreground_disparity(depth, fg_mask))
    near, far = np.percentile(depth[valid], [5, 95])
    if far <= near:
        return float(near)
    return float(1.0 / rng.uniform(1.0 / far, 1.0 / near))


def focus_description(spec: Dict[str, Any]) -> str:
    """Short text of a focus spec for metadata (``'median'``, ``'fixed:2.5'``, ``'random:1-5'``)."""
    if spec['mode'] == 'fixed':
        return f'fixed:{spec["distance"]:g}'
    if spec['mode'] == 'random' and spec.get('range') is not None:
        return f'random:{spec["range"][0]:g}-{spec["range"][1]:g}'
    return spec['mode']


__all__ = ['FOCUS_MODES', 'parse_focus', 'select_focus', 'foreground_disparity', 'focus_description']
