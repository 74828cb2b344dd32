"""Reference front-to-back compositing of projected 2D Gaussians, dense over all pixels and Gaussians."""
from __future__ import annotations

from typing import Tuple

import torch

MIN_ALPHA = 1.0 / 255.0
MAX_ALPHA = 0.99


def composite_reference(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, colors: torch.Tensor,
                        depths: torch.Tensor, width: int, height: int) -> Tuple[torch.Tensor, ...]:
    """Alpha-composite Gaussians given front to back (index 0 nearest).

    For pixel centre p = (x + 0.5, y + 0.5) and d = mean - p: ``sigma = 0.5 (a dx^2 + c dy^2) + b dx dy``,
    ``alpha = min(0.99, o exp(-sigma))`` and 0 where ``o exp(-sigma) < 1/255``; ``T_i = prod_{j<i} (1 - alpha_j)``.

    Args:
        means2d: [N,2] pixel coordinates. conics: [N,3] (a, b, c) of the inverse 2D covariance.
        opacities: [N]. colors: [N,C]. depths: [N] camera z in metres.

    Returns:
        color [H,W,C] = sum c_i alpha_i T_i, depth [H,W] = sum z_i alpha_i T_i (not normalised),
        alpha [H,W] = sum alpha_i T_i.
    """
    dtype, device = means2d.dtype, means2d.device
    ys, xs = torch.meshgrid(torch.arange(height, dtype=dtype, device=device),
                            torch.arange(width, dtype=dtype, device=device), indexing='ij')
    px = (xs.reshape(-1, 1) + 0.5)
    py = (ys.reshape(-1, 1) + 0.5)
    dx = means2d[:, 0].unsqueeze(0) - px
    dy = means2d[:, 1].unsqueeze(0) - py
    a, b, c = conics[:, 0], conics[:, 1], conics[:, 2]
    sig = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
    raw = opacities * torch.exp(-sig)
    alpha = torch.where(raw >= MIN_ALPHA, raw.clamp(max=MAX_ALPHA), torch.zeros_like(raw))
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1]], dim=1), dim=1)
    weight = alpha * trans
    color = (weight @ colors).reshape(height, width, -1)
    depth = (weight @ depths).reshape(height, width)
    acc = weight.sum(dim=1).reshape(height, width)
    return color, depth, acc
