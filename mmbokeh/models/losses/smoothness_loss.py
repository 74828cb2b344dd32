"""Edge-aware depth smoothness loss of SDNet's DepthNet (Zhang et al., "Depth Estimation Based on 3D Gaussian
Splatting Siamese Defocus", eq. 16), which cites Godard et al., "Unsupervised Monocular Depth Estimation with
Left-Right Consistency" (CVPR 2017).

Eq. 16 is ``L_sm = 1/N sum |dx D| exp(-|dx I|) + |dy D| exp(-|dy I|)``. The discretisation follows Godard et al. and
Monodepth2 (``get_smooth_loss``): forward differences over the valid pixel pairs only (no padding), image gradients
averaged over the colour channels before the exponential, and each direction averaged over its own differences.
"""
import torch

from mmbokeh.registry import MODELS


@MODELS.register_module()
class EdgeAwareSmoothnessLoss(torch.nn.Module):
    """Eq. 16 of SDNet: ``loss_weight * (mean(|dx D| exp(-|dx I|)) + mean(|dy D| exp(-|dy I|)))``.

    ``dx f = f[..., :, 1:] - f[..., :, :-1]`` and ``dy f = f[..., 1:, :] - f[..., :-1, :]`` (forward differences,
    Godard et al. / Monodepth2); ``|dx I|`` and ``|dy I|`` are averaged over the image channels; each term is the mean
    over its own ``B * H * (W - 1)`` or ``B * (H - 1) * W`` differences. An axis of size 1 has no difference and its
    term is 0 (still connected to the graph). Computed in float32 with autocast off.

    Args:
        loss_weight: multiplier of the loss.
        normalize: divide the depth by its per-image mean (plus 1e-7) first, as Monodepth2 does with its
            mean-normalised disparity, so that the loss does not shrink with the depth scale. Off by default (SDNet
            and Godard et al. apply it to the raw map).
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, normalize: bool = False, loss_name: str = 'loss_smooth') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, depth: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """depth: [B, 1, H, W] predicted depth (or disparity); image: [B, C, H, W] guidance image.

        Returns a float32 scalar.
        """
        name = type(self).__name__
        if depth.dim() != 4 or depth.shape[1] != 1:
            raise ValueError(f'{name}: depth must be [B, 1, H, W], got {tuple(depth.shape)}')
        if image.dim() != 4 or image.shape[0] != depth.shape[0] or image.shape[-2:] != depth.shape[-2:]:
            raise ValueError(f'{name}: image must be [B, C, H, W] = [{depth.shape[0]}, C, {depth.shape[2]}, '
                             f'{depth.shape[3]}] to match depth, got {tuple(image.shape)}')
        with torch.autocast(device_type=depth.device.type, enabled=False):
            d = depth.float()
            img = image.float()
            if self.normalize:
                d = d / (d.mean(dim=(2, 3), keepdim=True) + 1e-7)
            dx_d = (d[..., :, 1:] - d[..., :, :-1]).abs()
            dy_d = (d[..., 1:, :] - d[..., :-1, :]).abs()
            dx_i = (img[..., :, 1:] - img[..., :, :-1]).abs().mean(dim=1, keepdim=True)
            dy_i = (img[..., 1:, :] - img[..., :-1, :]).abs().mean(dim=1, keepdim=True)
            loss = self._term(dx_d, dx_i) + self._term(dy_d, dy_i)
            return self.loss_weight * loss

    @staticmethod
    def _term(grad_depth: torch.Tensor, grad_image: torch.Tensor) -> torch.Tensor:
        weighted = grad_depth * torch.exp(-grad_image)
        if weighted.numel() == 0:
            return weighted.sum()  # 0, connected to the graph
        return weighted.mean()
