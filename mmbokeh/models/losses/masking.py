"""Shared input checks for masked dense depth losses."""
from typing import Optional

import torch


def valid_depth_pixels(pred: torch.Tensor, target: torch.Tensor, valid_mask: Optional[torch.Tensor],
                       loss_cls: str) -> torch.Tensor:
    """Check a (pred, target, valid_mask) triple and return the boolean mask of pixels a loss may use.

    Args:
        pred: [B, 1, H, W] or [B, H, W] predicted depth, metres.
        target: same shape as ``pred``, metres; 0 (or any value <= 0) marks an invalid pixel.
        valid_mask: bool, same shape, or None for ``target > 0``.
        loss_cls: name of the calling loss, for error messages.

    Returns:
        bool tensor of ``pred``'s shape: ``valid_mask & (target > 0)``.
    """
    if pred.dim() not in (3, 4) or (pred.dim() == 4 and pred.shape[1] != 1):
        raise ValueError(f'{loss_cls}: pred must be [B, 1, H, W] or [B, H, W], got {tuple(pred.shape)}')
    if pred.shape != target.shape:
        raise ValueError(f'{loss_cls}: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}')
    positive = target > 0
    if valid_mask is None:
        return positive
    if valid_mask.dtype != torch.bool:
        raise TypeError(f'{loss_cls}: valid_mask must be a bool tensor, got {valid_mask.dtype}')
    if valid_mask.shape != pred.shape:
        raise ValueError(f'{loss_cls}: valid_mask shape {tuple(valid_mask.shape)} != pred shape '
                         f'{tuple(pred.shape)}')
    return valid_mask.detach() & positive
