"""Reference scatter renderer: every source pixel spreads over its own window, O(r^2) per pixel."""
from __future__ import annotations

import math
from typing import Union

import torch
import torch.nn.functional as F

SOFT_DISC_REG = 0.2  # BokehMe's normaliser r^2 + 0.2
GAUSSIAN_VAR0 = 0.1  # variance floor (px^2) of the gaussian kernel


def half_window(radius: torch.Tensor, kernel: str) -> torch.Tensor:
    """Half size of the square window each source covers: floor(r) + 1 (soft disc), floor(3 sigma) + 1 (gaussian)."""
    if kernel == 'soft_disc':
        return torch.floor(radius) + 1
    return torch.floor(3 * torch.sqrt(radius * radius * 0.25 + GAUSSIAN_VAR0)) + 1


def layer_centre(defocus: torch.Tensor, layer_width: float) -> torch.Tensor:
    """Centre ``(floor(D / h) + 0.5) h`` of the depth layer of width h that holds each signed defocus D (no
    gradient: the layer index is piecewise constant)."""
    return (torch.floor(defocus.detach() / layer_width) + 0.5) * layer_width


def splat_bokeh_reference(image: torch.Tensor,
                          defocus: torch.Tensor,
                          kernel: str = 'soft_disc',
                          occlusion: Union[bool, str] = False,
                          margin: float = 1.0,
                          sharpness: float = 4.0,
                          layer_width: float = 0.25) -> torch.Tensor:
    """Scatter rendering, normalised by the accumulated weight.

    ``out(t) = sum_s w(s, t) I(s) / sum_s w(s, t)`` over sources s whose window holds t, with r = |defocus(s)| and
    rho = |t - s|:

    - ``soft_disc`` (BokehMe): ``w = (0.5 + 0.5 tanh(4 (r - rho))) / (r^2 + 0.2)``, window ``floor(r) + 1``;
    - ``gaussian``: ``w = exp(-rho^2 / (2 v)) / (2 pi v)``, ``v = r^2 / 4 + 0.1`` (the disc's second moment),
      window ``floor(3 sqrt(v)) + 1``;
    - ``occlusion``: w is multiplied by ``sigmoid(sharpness (D(s) - D(t) + margin))`` with D the signed defocus
      (larger = nearer), so a target does not receive from sources more than ``margin`` px of defocus behind it
      (``occlusion=True`` or ``'exact'``);
    - ``occlusion='layered'``: the same gate with the source's defocus replaced by the centre of its depth layer,
      ``sigmoid(sharpness (C(s) - D(t) + margin))``, ``C = (floor(D / h) + 0.5) h``, h = ``layer_width`` (what the
      compiled kernels compute in time linear in r by scattering each layer on its own).

    Args:
        image: [B,C,H,W] float.
        defocus: [B,1,H,W] signed CoC radius in pixels.

    Returns:
        [B,C,H,W] rendered image.
    """
    mode = ('exact' if occlusion else 'none') if isinstance(occlusion, bool) else occlusion
    if mode not in ('none', 'exact', 'layered'):
        raise ValueError(f"occlusion must be a bool, 'none', 'exact' or 'layered', got {occlusion!r}")
    occlusion = mode != 'none'
    source_gate = layer_centre(defocus, layer_width) if mode == 'layered' else defocus
    b, c, h, w = image.shape
    radius = defocus.abs()
    half = half_window(radius.detach(), kernel)
    # a source reaches targets at most (h - 1, w - 1) pixels away: no larger offset lands inside the image
    reach = int(half.max())
    pad_y, pad_x = min(reach, h - 1), min(reach, w - 1)
    acc = image.new_zeros(b, c, h + 2 * pad_y, w + 2 * pad_x)
    wacc = image.new_zeros(b, 1, h + 2 * pad_y, w + 2 * pad_x)
    target_defocus = F.pad(defocus, (pad_x, pad_x, pad_y, pad_y)) if occlusion else None
    if kernel == 'soft_disc':
        norm = 1.0 / (radius * radius + SOFT_DISC_REG)
    else:
        var = radius * radius * 0.25 + GAUSSIAN_VAR0
        norm = 1.0 / (2 * math.pi * var)
    for dy in range(-pad_y, pad_y + 1):
        for dx in range(-pad_x, pad_x + 1):
            inside = half >= max(abs(dy), abs(dx))
            if not bool(inside.any()):
                continue
            rho2 = float(dx * dx + dy * dy)
            if kernel == 'soft_disc':
                wt = (0.5 + 0.5 * torch.tanh(4 * (radius - math.sqrt(rho2)))) * norm
            else:
                wt = torch.exp(-rho2 / (2 * var)) * norm
            wt = wt * inside
            ys, xs = slice(pad_y + dy, pad_y + dy + h), slice(pad_x + dx, pad_x + dx + w)
            if occlusion:
                wt = wt * torch.sigmoid(sharpness * (source_gate - target_defocus[:, :, ys, xs] + margin))
            acc[:, :, ys, xs] += wt * image
            wacc[:, :, ys, xs] += wt
    inner = (slice(None), slice(None), slice(pad_y, pad_y + h), slice(pad_x, pad_x + w))
    return acc[inner] / wacc[inner]
