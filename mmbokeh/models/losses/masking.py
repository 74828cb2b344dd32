"""Shared input checks for masked dense depth losses."""
from typing import Optional

import torch


def valid_depth_pixels(pred: torch.Tensor, target: torch.Tensor, valid_mask: Optional[torch.Tensor],
                       loss_cls: str) -> torch.Tensor:
    """Check a (pred, target, valid_mask) triple and return the boolean mask of pixels a loss may use.

    Args:
        pred: [B, 1, H, W] or [B, H, W] predicted depth, metres.
        target: same shape as ``pred``, metres; 0 (or any value <= 0), NaN and +-inf mark an invalid pixel.
        valid_mask: bool, same shape, or None for every valid ``target`` pixel.
        loss_cls: name of the calling loss, for error messages.

    Returns:
        bool tensor of ``pred``'s shape: ``valid_mask & (target > 0) & isfinite(target)``.
    """
    if pred.dim() not in (3, 4) or (pred.dim() == 4 and pred.shape[1] != 1):
        raise ValueError(f'{loss_cls}: pred must be [B, 1, H, W] or [B, H, W], got {tuple(pred.shape)}')
    if pred.shape != target.shape:
        raise ValueError(f'{loss_cls}: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}')
    positive = (target > 0) & torch.isfinite(target)  # an infinite ground truth (e.g. sky) is no depth to fit
    if valid_mask is None:
        return positive
    if valid_mask.dtype != torch.bool:
        raise TypeError(f'{loss_cls}: valid_mask must be a bool tensor, got {valid_mask.dtype}')
    if valid_mask.shape != pred.shape:
        raise ValueError(f'{loss_cls}: valid_mask shape {tuple(valid_mask.shape)} != pred shape '
                         f'{tuple(pred.shape)}')
    return valid_mask.detach() & positive


class MaskedDepthLoss(torch.nn.Module):
    """Base of dense depth losses over the valid pixels of a batch: checks inputs, pools the valid pixels, returns
    0 connected to ``pred`` when none is valid; subclasses define :meth:`pixel_loss` on the pooled float32 values.

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_depth') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def pixel_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target: [N] float32 metres of the valid pixels -> scalar."""
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred, target: [B, 1, H, W] or [B, H, W] metres; valid_mask: bool, same shape (None: finite target > 0).

        Returns a float32 scalar (also under autocast, whatever ``pred``'s dtype). With no valid pixel it is 0 and
        still connected to ``pred`` (``pred[mask].sum() * 0``, so a NaN or inf in a masked-out pixel never leaks into
        the loss).
        """
        mask = valid_depth_pixels(pred, target, valid_mask, type(self).__name__)
        if not bool(mask.any()):
            return pred[mask].float().sum() * 0.0
        return self.loss_weight * self.pixel_loss(pred[mask].float(), target[mask].float())
