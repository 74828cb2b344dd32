"""Masked mean squared error of metric depth."""
import torch

from mmbokeh.registry import MODELS

from .masking import MaskedDepthLoss


@MODELS.register_module()
class MSEDepthLoss(MaskedDepthLoss):
    """``loss_weight * mean((pred - target)^2)`` over the valid pixels of the batch (metres^2), in float32 (the
    official BokehDepth UniDepth NYU fine-tuning's ``metric_depth_mse``, weight 1).

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_mse') -> None:
        super().__init__(loss_weight, loss_name)

    def pixel_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).square().mean()
