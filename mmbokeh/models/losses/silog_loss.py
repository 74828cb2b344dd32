"""Scale-invariant log loss, as used for Depth Anything V2's metric fine-tuning."""
import torch

from mmbokeh.registry import MODELS

from .masking import MaskedDepthLoss


@MODELS.register_module()
class SiLogLoss(MaskedDepthLoss):
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
        super().__init__(loss_weight, loss_name)
        if not 0.0 <= lambd <= 1.0:
            raise ValueError(f'SiLogLoss: lambd must be in [0, 1], got {lambd}')
        if eps <= 0:
            raise ValueError(f'SiLogLoss: eps must be > 0, got {eps}')
        self.lambd = lambd
        self.eps = eps

    def pixel_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = torch.log(target) - torch.log(pred.clamp_min(self.eps))
        radicand = diff.pow(2).mean() - self.lambd * diff.mean().pow(2)
        return torch.sqrt(radicand.clamp_min(self.eps ** 2))
