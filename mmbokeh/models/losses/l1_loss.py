"""Masked L1 depth loss."""
import torch

from mmbokeh.registry import MODELS

from .masking import MaskedDepthLoss


@MODELS.register_module()
class L1DepthLoss(MaskedDepthLoss):
    """``loss_weight * mean(|pred - target|)`` over the valid pixels of the batch (metres), in float32.

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_l1') -> None:
        super().__init__(loss_weight, loss_name)

    def pixel_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs().mean()
