"""Input checks shared by the public op wrappers: clear ``TypeError``/``ValueError`` before any kernel runs."""
from __future__ import annotations

from typing import Optional

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_image(name: str, x: object) -> torch.Tensor:
    """``x`` must be a non-empty float32/float64 tensor of shape [B,C,H,W]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor [B,C,H,W], got {type(x).__name__}')
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f'{name} must be float32 or float64, got {x.dtype}')
    if x.dim() != 4:
        raise ValueError(f'{name} must have shape [B,C,H,W], got {tuple(x.shape)}')
    if x.numel() == 0:
        raise ValueError(f'{name} is empty: shape {tuple(x.shape)}')
    return x


def check_map(name: str, x: object, image: torch.Tensor, max_abs: Optional[float] = None) -> torch.Tensor:
    """``x`` must be a finite [B,1,H,W] tensor matching ``image`` in B, H, W, dtype and device."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor [B,1,H,W], got {type(x).__name__}')
    if x.dtype != image.dtype:
        raise TypeError(f'{name} must have the image dtype {image.dtype}, got {x.dtype}')
    if x.device != image.device:
        raise ValueError(f'{name} is on {x.device} but the image is on {image.device}')
    b, _, h, w = image.shape
    if tuple(x.shape) != (b, 1, h, w):
        raise ValueError(f'{name} must have shape [B,1,H,W] = {(b, 1, h, w)}, got {tuple(x.shape)}')
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = x[~finite][0].item()
        raise ValueError(f'{name} contains {bad} (NaN or inf) at {int((~finite).sum())} pixel(s)')
    if max_abs is not None:
        m = float(x.detach().abs().max())
        if m > max_abs:
            raise ValueError(f'{name} reaches {m:.1f} px; the ops support at most {max_abs:.0f} px')
    return x


def check_choice(name: str, value: object, choices: tuple) -> None:
    """``value`` must be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f'{name} must be one of {choices}, got {value!r}')


def check_bool(name: str, value: object) -> None:
    """``value`` must be a bool."""
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be a bool, got {type(value).__name__}')
