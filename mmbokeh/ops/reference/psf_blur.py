"""Reference Gaussian PSF layer (Gur and Wolf): a spatially varying gather over a fixed window."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def psf_blur_reference(image: torch.Tensor, sigma: torch.Tensor, window: int = 7) -> torch.Tensor:
    """``out(p) = sum_q g(c_q, |p-q|) I(q) / sum_q g(c_q, |p-q|)`` over the window around p.

    ``g(c, rho) = c^-2 exp(-2 rho^2 / c^2)`` (a gaussian of standard deviation c / 2) with c = sigma(q) in pixels.
    Neighbours with c <= 1 are skipped and a pixel with c <= 1 is copied unchanged.

    Args:
        image: [B,C,H,W] float.
        sigma: [B,1,H,W] CoC parameter c in pixels.
        window: odd window size.
    """
    b, c, h, w = image.shape
    half = window // 2
    active = sigma > 1
    cs = torch.where(active, sigma, torch.ones_like(sigma))
    act = active.to(image.dtype)
    pads = (half, half, half, half)
    img_p, c_p, a_p = F.pad(image, pads), F.pad(cs, pads, value=1.0), F.pad(act, pads)
    num = torch.zeros_like(image)
    den = torch.zeros_like(sigma)
    for dy in range(-half, half + 1):
        for dx in range(-half, half + 1):
            ys, xs = slice(half + dy, half + dy + h), slice(half + dx, half + dx + w)
            cq = c_p[:, :, ys, xs]
            g = a_p[:, :, ys, xs] * torch.exp(-2.0 * (dx * dx + dy * dy) / (cq * cq)) / (cq * cq)
            num = num + g * img_p[:, :, ys, xs]
            den = den + g
    blurred = num / torch.where(active, den, torch.ones_like(den))
    return torch.where(active, blurred, image)
