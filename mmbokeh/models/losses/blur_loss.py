"""SDNet's blur loss (Zhang et al., "Depth Estimation Based on 3D Gaussian Splatting Siamese Defocus", eq. 6).

Eq. 6 is ``L_blur = -1/N sum_n beta * log( sum_ij (lap I(i, j))^2 / (M - mu^2) )`` with ``lap`` the Laplacian, ``M``
the number of pixels and ``mu`` the mean pixel value, following DEReD (Si et al., CVPR 2023). The paper names neither
the operator's discretisation nor the colour handling, so this follows DEReD's ``utils/loss.py`` ``Blur`` and its
trainer: the image is converted to grey by a mean over channels, the "Laplacian" is a Laplacian-of-Gaussian kernel
sampled on the integer grid without zero-mean correction, applied with zero padding ('same' size), and ``1e-8`` is
added inside the log.
"""
import math

import torch
import torch.nn.functional as F

from mmbokeh.registry import MODELS


def log_kernel(window: int, sigma: float) -> torch.Tensor:
    """Laplacian-of-Gaussian kernel as DEReD's ``Blur.gen_LoG_kernel`` samples it.

    ``K(x, y) = 1 / (pi sigma^4) * (1 - (x^2 + y^2) / (2 sigma^2)) * exp(-(x^2 + y^2) / (2 sigma^2))`` with ``x`` and
    ``y`` running over ``window // 2, ..., -(window // 2)`` (``numpy.arange(window // 2, -window // 2, -1)`` for an
    odd window). Positive at the centre, not corrected to sum to zero.

    Returns:
        [1, 1, window, window] float32 kernel.
    """
    half = window // 2
    coords = torch.arange(half, -half - 1, -1, dtype=torch.float64)
    r2 = coords.view(-1, 1) ** 2 + coords.view(1, -1) ** 2
    s2 = 2.0 * sigma ** 2
    kernel = (1.0 - r2 / s2) * torch.exp(-r2 / s2) / (math.pi * sigma ** 4)
    return kernel.to(torch.float32).view(1, 1, window, window)


@MODELS.register_module()
class BlurLoss(torch.nn.Module):
    """Eq. 6 of SDNet, as DEReD's ``utils/loss.py`` ``Blur`` implements it: a sharpness prior that is lower for
    images with a larger Laplacian energy.

    Per image ``b`` (``H x W`` pixels, ``grey = mean over channels``, ``lap = conv2d(grey, K, padding=window // 2)``
    with zero padding and ``K`` from :func:`log_kernel`):

        ``loss_b = -log( sum_ij lap^2 / (H * W - mean(grey)^2) + 1e-8 )``,  ``L = beta * mean_b(loss_b)``.

    The denominator is floored at ``1e-8`` (for images in ``[0, 1]`` it only reaches 0 for a single white pixel), so
    the loss stays finite; an all-zero image gives ``beta * -log(1e-8)``. Computed in float32 with autocast off.

    Args:
        beta: scaling factor of eq. 6 (0.01 in the paper; DEReD's ``Blur`` defaults to 0.25).
        window: odd side (>= 3) of the LoG kernel; 7 as in DEReD's ``--blur_loss_window``.
        sigma: LoG standard deviation in pixels; 1 as in DEReD's ``--blur_loss_sigma``.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, beta: float = 0.01, window: int = 7, sigma: float = 1.0, loss_name: str = 'loss_blur') -> None:
        super().__init__()
        if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window % 2 == 0:
            raise ValueError(f'{type(self).__name__}: window must be an odd int >= 3, got {window!r}')
        if sigma <= 0:
            raise ValueError(f'{type(self).__name__}: sigma must be > 0, got {sigma}')
        self.beta = beta
        self.window = window
        self.sigma = sigma
        self._loss_name = loss_name
        self.register_buffer('kernel', log_kernel(window, sigma), persistent=False)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def laplacian(self, grey: torch.Tensor) -> torch.Tensor:
        """grey: [B, 1, H, W] -> [B, 1, H, W] float32 LoG response with zero padding."""
        with torch.autocast(device_type=grey.device.type, enabled=False):
            kernel = self.kernel.to(device=grey.device, dtype=torch.float32)
            return F.conv2d(grey.float(), kernel, padding=self.window // 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: [B, C, H, W] in [0, 1] (C = 1 for a grey image). Returns a float32 scalar."""
        if image.dim() != 4:
            raise ValueError(f'{type(self).__name__}: image must be [B, C, H, W], got {tuple(image.shape)}')
        with torch.autocast(device_type=image.device.type, enabled=False):
            grey = image.float().mean(dim=1, keepdim=True)
            height, width = grey.shape[-2:]
            energy = self.laplacian(grey).pow(2).sum(dim=(1, 2, 3))
            denom = (height * width - grey.mean(dim=(1, 2, 3)).pow(2)).clamp_min(1e-8)
            per_image = -torch.log(energy / denom + 1e-8)
            return self.beta * per_image.mean()
