"""Masked L1 depth loss."""
from typing import Optional

import torch
import torch.nn as nn

from mmbokeh.registry import MODELS
from .masking import valid_depth_pixels


@MODELS.register_module()
class L1DepthLoss(nn.Module):
    """``loss_weight * mean(|pred - target|)`` over the valid pixels of the batch (metres), in float32.

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_l1') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred, target: [B, 1, H, W] or [B, H, W] metres; valid_mask: bool, same shape (None: target > 0).

        Returns a scalar; 0 connected to ``pred`` when no pixel is valid.
        """
        mask = valid_depth_pixels(pred, target, valid_mask, 'L1DepthLoss')
        if not bool(mask.any()):
            return pred.sum() * 0.0
        return self.loss_weight * (pred[mask].float() - target[mask].float()).abs().mean()
