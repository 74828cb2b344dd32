"""UniDepthV2's training losses (official ``UniDepth/unidepth/ops/losses/``), on the head's output dict.

Each takes ``(outputs, target, valid_mask)``: ``outputs`` from ``UniDepthV2Head`` (``depth`` [B, 1, H, W] metres,
``confidence`` [B, 1, H, W], ``rays_pred`` / ``rays_gt`` [B, 3, H, W]), ``target`` [B, 1, H, W] metres and the
bool ``valid_mask`` of the same shape; each returns a scalar (mean over the batch of per-image values, times
``loss_weight``). ``UniDepthV2Head`` calls them so (``takes_outputs = True``).
"""
from typing import Dict

import torch
import torch.nn as nn

from mmbokeh.registry import MODELS

Outputs = Dict[str, torch.Tensor]


def _per_image_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x [B, ...] over the pixels where ``mask``, per image (0 for images without one) -> [B]."""
    mask = mask.flatten(1).float()
    return (x.flatten(1) * mask).sum(1) / mask.sum(1).clamp_min(1.0)


class _UniDepthLoss(nn.Module):
    takes_outputs = True

    def __init__(self, loss_weight: float, loss_name: str) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.loss_name = loss_name


@MODELS.register_module()
class UniDepthSILogLoss(_UniDepthLoss):
    """UniDepth's scale-invariant log loss (official ``SILog``, ``input_fn='log'``, ``dims=[-2, -1]``).

    Per image, ``e = log(pred + 1e-4) - log(gt + 1e-4)`` (both clamped at ``eps``) over valid pixels;
    ``sqrt(var(e) + integrated * mean(e)^2 + 1e-4)``; averaged over the batch. ``integrated`` 0.15 (the official
    setting for metric samples) keeps part of the scale error.
    """

    def __init__(self, integrated: float = 0.15, eps: float = 1e-5, loss_weight: float = 1.0,
                 loss_name: str = 'loss_silog') -> None:
        super().__init__(loss_weight, loss_name)
        self.integrated, self.eps = float(integrated), float(eps)

    def forward(self, outputs: Outputs, target: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
        pred = outputs['depth'].float()
        target = target.float()
        valid = valid_mask & torch.isfinite(pred) & torch.isfinite(target)
        error = torch.log(pred.clamp_min(self.eps) + 1e-4) - torch.log(target.clamp_min(self.eps) + 1e-4)
        error = torch.nan_to_num(error, nan=0.0, posinf=0.0, neginf=0.0)
        mean = _per_image_mean(error, valid)
        var = (_per_image_mean(error.square(), valid) - mean.square()).clamp_min(0.0)
        var = var + self.integrated * mean.square()
        return self.loss_weight * torch.sqrt(var + 1e-4).mean()


@MODELS.register_module()
class UniDepthConfidenceLoss(_UniDepthLoss):
    """Confidence loss (official ``Confidence``, ``input_fn='linear'``, ``output_fn='sqrt'``, ``rescale=True``).

    Per image, the predicted depth is rescaled by ``median(gt) / median(pred)`` over valid pixels and
    ``sqrt(mean(| |pred - gt| - log(confidence) |) + 1e-4)`` is taken over them; averaged over the batch. As in the
    official code the depth is not detached, so this loss also reaches the depth branch.
    """

    def __init__(self, loss_weight: float = 0.1, loss_name: str = 'loss_confidence') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, outputs: Outputs, target: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
        pred, target = outputs['depth'].float(), target.float()
        log_conf = outputs['confidence'].float().log()
        # Pixels outside the mask are replaced before any arithmetic (not just weighted by 0 after it): a NaN or inf
        # there (a hole in the ground truth, a diverged prediction) would otherwise make the loss or the gradient NaN.
        valid_mask = valid_mask & torch.isfinite(target)
        pred = torch.where(valid_mask, pred, torch.ones_like(pred))
        target = torch.where(valid_mask, target, torch.ones_like(target))
        log_conf = torch.where(valid_mask, log_conf, torch.zeros_like(log_conf))
        scaled = []
        for p, t, m in zip(pred, target, valid_mask):
            scaled.append(p * torch.median(t[m]) / torch.median(p[m]) if bool(m.any()) else p)
        error = ((torch.stack(scaled) - target).abs() - log_conf).abs()
        return self.loss_weight * torch.sqrt(_per_image_mean(error, valid_mask) + 1e-4).mean()


@MODELS.register_module()
class UniDepthCameraLoss(_UniDepthLoss):
    """Camera loss on rays (official ``Regression``, ``fn='l2'``, ``output_fn='sqrt'``, ``dims=[-1]``).

    ``sqrt(mean_w(mean_xyz((r_pred - r_gt)^2)) + 1e-4)`` averaged over the batch and image rows (the official
    reduction: the mean runs over the last axis only). Compared here are the rays of the *predicted* intrinsics with
    those of the given camera; the official code compares the rays it used for depth, which are the given camera's
    whenever there is one, so its camera loss is zero in training. Without a given camera (``rays_gt`` absent) the
    loss is 0.
    """

    def __init__(self, loss_weight: float = 0.25, loss_name: str = 'loss_camera') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, outputs: Outputs, target: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
        pred = outputs['rays_pred']
        if outputs.get('rays_gt') is None:
            return pred.float().sum() * 0.0
        error = (pred.float() - outputs['rays_gt'].float()).square().mean(1).mean(-1)
        return self.loss_weight * torch.sqrt(error + 1e-4).mean()
