"""Depth maps to colour images."""
from typing import Optional, Union

import numpy as np
import torch

#: our names -> matplotlib names. turbo / spectral_r colour depth; viridis (abs_rel error) and plasma (defocus) start
#: away from black, so that black stays 'invalid'.
_CMAPS = {'turbo': 'turbo', 'spectral_r': 'Spectral_r', 'viridis': 'viridis', 'plasma': 'plasma', 'magma': 'magma'}
_LUTS: dict = {}


def _lut(cmap: str) -> np.ndarray:
    """[256, 3] uint8 RGB lookup table of a matplotlib colormap."""
    key = cmap.lower()
    if key not in _CMAPS:
        raise ValueError(f'colorize_depth: cmap must be one of {sorted(_CMAPS)}, got {cmap!r}')
    if key not in _LUTS:
        import matplotlib
        rgba = matplotlib.colormaps[_CMAPS[key]](np.linspace(0.0, 1.0, 256))
        _LUTS[key] = np.round(rgba[:, :3] * 255).astype(np.uint8)
    return _LUTS[key]


def colorize_depth(depth: Union[np.ndarray, torch.Tensor], vmin: Optional[float] = None,
                   vmax: Optional[float] = None, cmap: str = 'turbo', channel_order: str = 'rgb') -> np.ndarray:
    """Colour a depth map.

    Args:
        depth: [H, W] (or [1, H, W]) metres; pixels <= 0 or not finite are invalid.
        vmin, vmax: depth at the first / last colour of the map; default: min / max of the valid pixels.
            Values outside are clipped. If vmax <= vmin every valid pixel gets the first colour.
        cmap: 'turbo' or 'spectral_r' (matplotlib's Spectral_r, Depth Anything's colouring), or 'viridis',
            'plasma', 'magma'; near (small depth) takes the start of the map.
        channel_order: 'rgb' (mmengine's Visualizer convention) or 'bgr' (OpenCV's).

    Returns:
        [H, W, 3] uint8 image, invalid pixels black.
    """
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"colorize_depth: channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    if isinstance(depth, torch.Tensor):
        depth = depth.detach().float().cpu().numpy()
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise ValueError(f'colorize_depth: depth must be [H, W] or [1, H, W], got {depth.shape}')
    lut = _lut(cmap)
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros(depth.shape + (3, ), np.uint8)
    if valid.any():
        lo = float(depth[valid].min()) if vmin is None else float(vmin)
        hi = float(depth[valid].max()) if vmax is None else float(vmax)
        scale = 1.0 / (hi - lo) if hi > lo else 0.0
        norm = np.clip((depth[valid] - lo) * scale, 0.0, 1.0)
        out[valid] = lut[np.round(norm * 255).astype(np.int64)]
    return out[..., ::-1].copy() if channel_order == 'bgr' else out


def colorize_values(values: Union[np.ndarray, torch.Tensor], vmin: float, vmax: float, cmap: str = 'viridis',
                    valid: Optional[np.ndarray] = None, channel_order: str = 'rgb') -> np.ndarray:
    """Colour any scalar map (errors, defocus) on a fixed range; unlike :func:`colorize_depth`, zero is a value.

    Args:
        values: [H, W] (or [1, H, W]) map.
        vmin, vmax: values at the first / last colour (clipped outside). If vmax <= vmin every valid pixel gets the
            first colour.
        cmap: as :func:`colorize_depth`.
        valid: [H, W] bool mask of the pixels to colour; default: the finite ones. The others are black.
        channel_order: 'rgb' or 'bgr'.

    Returns:
        [H, W, 3] uint8 image; the colour of value v is the colormap's entry ``round(clip((v - vmin) / (vmax -
        vmin), 0, 1) * 255)`` of 256.
    """
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"colorize_values: channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2:
        raise ValueError(f'colorize_values: values must be [H, W] or [1, H, W], got {values.shape}')
    mask = np.isfinite(values)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != values.shape:
            raise ValueError(f'colorize_values: valid {valid.shape} does not match values {values.shape}')
        mask &= valid
    lut = _lut(cmap)
    out = np.zeros(values.shape + (3, ), np.uint8)
    scale = 1.0 / (float(vmax) - float(vmin)) if vmax > vmin else 0.0
    norm = np.clip((values[mask] - float(vmin)) * scale, 0.0, 1.0)
    out[mask] = lut[np.round(norm * 255).astype(np.int64)]
    return out[..., ::-1].copy() if channel_order == 'bgr' else out
