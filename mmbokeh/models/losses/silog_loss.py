"""Scale-invariant log loss, as used for Depth Anything V2's metric fine-tuning."""
from typing import Optional

import torch
import torch.nn as nn

from mmbokeh.registry import MODELS
from .masking import valid_depth_pixels


@MODELS.register_module()
class SiLogLoss(nn.Module):
    """``loss_weight * sqrt(mean(d^2) - lambd * mean(d)^2)`` with ``d = log(target) - log(pred)`` on valid pixels.

    All valid pixels of the batch are pooled (one mean over the batch, as in Depth Anything V2), and the loss is
    computed in float32 whatever the input dtype (bf16 logs are too coarse).

    Args:
        lambd: weight of the squared mean; 0 gives the RMSE of log depth, 1 a fully scale-invariant loss.
        loss_weight: multiplier of the loss.
        eps: ``pred`` is clamped to at least ``eps`` metres before the log; the radicand is floored at ``eps**2``
            so that a perfect prediction gives a loss of ``eps`` with a finite gradient instead of NaN.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, lambd: float = 0.5, loss_weight: float = 1.0, eps: float = 1e-6,
                 loss_name: str = 'loss_silog') -> None:
        super().__init__()
        if not 0.0 <= lambd <= 1.0:
            raise ValueError(f'SiLogLoss: lambd must be in [0, 1], got {lambd}')
        if eps <= 0:
            raise ValueError(f'SiLogLoss: eps must be > 0, got {eps}')
        self.lambd = lambd
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred, target: [B, 1, H, W] or [B, H, W] metres; valid_mask: bool, same shape (None: target > 0).

        Returns a scalar. With no valid pixel it is 0 and still connected to ``pred`` (``pred.sum() * 0``).
        """
        mask = valid_depth_pixels(pred, target, valid_mask, 'SiLogLoss')
        if not bool(mask.any()):
            return pred.sum() * 0.0
        p = pred[mask].float().clamp_min(self.eps)
        t = target[mask].float()
        diff = torch.log(t) - torch.log(p)
        radicand = diff.pow(2).mean() - self.lambd * diff.mean().pow(2)
        return self.loss_weight * torch.sqrt(radicand.clamp_min(self.eps ** 2))
