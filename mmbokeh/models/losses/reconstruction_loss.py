"""SSIM + L1 blur reconstruction loss of SDNet (Zhang et al., "Depth Estimation Based on 3D Gaussian Splatting
Siamese Defocus", eq. 12), between the defocused image rendered by the 3D Gaussian splatting with the predicted CoC and
the real defocused image.

Eq. 12 is ``L_rec = alpha (1 - SSIM(I_hat, I)) / 2 + (1 - alpha) |I_hat - I|_1``; the paper gives no ``alpha``, and
0.85 is the value of DEReD (``--recon_loss_alpha``) and Monodepth/Monodepth2. SSIM is kornia's
(:func:`kornia.metrics.ssim`).
"""
from typing import Optional

import kornia
import torch

from mmbokeh.registry import MODELS


@MODELS.register_module()
class ReconstructionLoss(torch.nn.Module):
    """Eq. 12 of SDNet: ``loss_weight * mean over (masked) pixels of alpha (1 - SSIM) / 2 + (1 - alpha) |pred - t|``
    (``t`` the target).

    The per-pixel map is evaluated for every channel and the mean is taken over the selected pixels of all channels
    (the mean of the channel-averaged map). SSIM is :func:`kornia.metrics.ssim`: Gaussian window of side
    ``window_size`` and sigma 1.5, ``C1 = 0.01^2``, ``C2 = 0.03^2`` (``max_val=1.0``), and ``padding='same'``, which
    kornia implements by *reflect* padding (so a constant image stays constant up to the border; DEReD's own SSIM
    zero-pads instead). It is called with ``eps=0`` (no term added to the SSIM denominator, as in DEReD's and
    Monodepth2's SSIM), so identical images give exactly 0. Computed in float32 with autocast off.

    The mask selects the pixels that enter the mean; SSIM windows still read the neighbours of a selected pixel, so
    masked-out pixels must be finite too. With no selected pixel the loss is 0, connected to ``pred``.

    Args:
        alpha: weight of the SSIM term; 0.85 as DEReD and Monodepth2.
        window_size: odd side of the SSIM Gaussian window (11, as DEReD's SSIM); images need
            ``H, W > window_size // 2`` for the reflect padding.
        loss_weight: multiplier of the loss (``mu_3`` of eq. 14).
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, alpha: float = 0.85, window_size: int = 11, loss_weight: float = 1.0,
                 loss_name: str = 'loss_recon') -> None:
        super().__init__()
        name = type(self).__name__
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'{name}: alpha must be in [0, 1], got {alpha}')
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1 \
                or window_size % 2 == 0:
            raise ValueError(f'{name}: window_size must be an odd int >= 1, got {window_size!r}')
        self.alpha = alpha
        self.window_size = window_size
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred: [B, C, H, W] rendered image in [0, 1]; target: same shape, real image; mask: [B, 1, H, W] bool of
        the pixels to average (None: all).

        Returns a float32 scalar.
        """
        name = type(self).__name__
        if pred.dim() != 4:
            raise ValueError(f'{name}: pred must be [B, C, H, W], got {tuple(pred.shape)}')
        if target.shape != pred.shape:
            raise ValueError(f'{name}: target shape {tuple(target.shape)} != pred shape {tuple(pred.shape)}')
        b, c, h, w = pred.shape
        if mask is not None:
            if mask.dtype != torch.bool:
                raise TypeError(f'{name}: mask must be a bool tensor, got {mask.dtype}')
            if tuple(mask.shape) != (b, 1, h, w):
                raise ValueError(f'{name}: mask must be [B, 1, H, W] = {(b, 1, h, w)}, got {tuple(mask.shape)}')
            mask = mask.detach().expand(b, c, h, w)
            if not bool(mask.any()):
                return pred[mask].float().sum() * 0.0
        half = self.window_size // 2
        if h <= half or w <= half:
            raise ValueError(f'{name}: window_size={self.window_size} needs H and W > {half} (reflect padding), '
                             f'got (H, W) = ({h}, {w})')
        with torch.autocast(device_type=pred.device.type, enabled=False):
            p = pred.float()
            t = target.float()
            pixel = (1.0 - self.alpha) * (p - t).abs()
            if self.alpha > 0:
                ssim = kornia.metrics.ssim(p, t, self.window_size, max_val=1.0, eps=0.0, padding='same')
                pixel = pixel + self.alpha * (1.0 - ssim) / 2.0
            if mask is not None:
                pixel = pixel[mask]
            return self.loss_weight * pixel.mean()
