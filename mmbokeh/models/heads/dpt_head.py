"""Depth Anything V2's DPT decoder."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

from .base_depth_head import BaseDepthHead, LossConfig
from .dpt_blocks import FeatureFusionBlock

DPT_SETTINGS = {  # Depth Anything V2: DPT features and projection widths per encoder size.
    's': dict(features=64, out_channels=(48, 96, 192, 384)),
    'b': dict(features=128, out_channels=(96, 192, 384, 768)),
    'l': dict(features=256, out_channels=(256, 512, 1024, 1024)),
}


@MODELS.register_module()
class DPTHead(BaseDepthHead):
    """DPT head equal to Depth Anything V2's (same parameter names as ``depth_head.*`` in official checkpoints).

    Args:
        in_channels: token width of the encoder.
        features: fusion width (S 64, B 128, L 256).
        out_channels: projection widths of the four taps.
        depth_type: 'metric' (sigmoid * max_depth, metres) or 'relative' (ReLU, affine-invariant disparity).
        max_depth: metres, for metric heads.
        patch_size: encoder patch size; the output is upsampled to grid * patch_size.
        loss_decode: loss config(s) of :meth:`loss` (default SiLog, lambda 0.5, as Depth Anything V2).

    Forward: four tap tokens [B, h*w, C] and the grid (h, w) -> depth [B, 1, h*patch, w*patch].
    """

    def __init__(self,
                 in_channels: int,
                 features: int = 256,
                 out_channels: Sequence[int] = (256, 512, 1024, 1024),
                 use_bn: bool = False,
                 depth_type: str = 'metric',
                 max_depth: float = 20.0,
                 patch_size: int = 14,
                 loss_decode: Optional[LossConfig] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_decode=loss_decode, init_cfg=init_cfg)
        if not max_depth > 0:
            raise ValueError(f'DPTHead max_depth must be > 0 metres, got {max_depth!r}')
        if depth_type not in ('metric', 'relative'):
            raise ValueError(f"DPTHead depth_type must be 'metric' or 'relative', got '{depth_type}'")
        if len(out_channels) != 4:
            raise ValueError(f'DPTHead out_channels needs 4 widths, got {list(out_channels)}')
        self.depth_type, self.max_depth, self.patch_size = depth_type, float(max_depth), patch_size
        oc = list(out_channels)
        self.projects = nn.ModuleList([nn.Conv2d(in_channels, c, 1) for c in oc])
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(oc[0], oc[0], 4, stride=4),
            nn.ConvTranspose2d(oc[1], oc[1], 2, stride=2),
            nn.Identity(),
            nn.Conv2d(oc[3], oc[3], 3, stride=2, padding=1),
        ])
        self.scratch = nn.Module()
        for i, c in enumerate(oc, start=1):
            setattr(self.scratch, f'layer{i}_rn', nn.Conv2d(c, features, 3, padding=1, bias=False))
            setattr(self.scratch, f'refinenet{i}', FeatureFusionBlock(features, use_bn))
        self.scratch.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.scratch.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, 32, 3, padding=1), nn.ReLU(True), nn.Conv2d(32, 1, 1),
            nn.Sigmoid() if depth_type == 'metric' else nn.ReLU(True))
        # The deepest fusion block has no skip input, so its first residual unit is never called (as in the official
        # model, whose checkpoints still carry it). Freeze it so DDP does not wait for gradients that never come.
        self.scratch.refinenet4.resConfUnit1.requires_grad_(False)

    def forward(self, taps: List[torch.Tensor], grid: tuple) -> torch.Tensor:
        if len(taps) != 4:
            raise ValueError(f'DPTHead expects 4 taps, got {len(taps)}')
        h, w = grid
        feats = []
        for x, project, resize in zip(taps, self.projects, self.resize_layers):
            x = x.transpose(1, 2).reshape(x.shape[0], x.shape[-1], h, w)
            feats.append(resize(project(x)))
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f'layer{i}_rn')(f) for i, f in enumerate(feats, start=1))
        path = s.refinenet4(l4, size=l3.shape[2:])
        path = s.refinenet3(path, l3, size=l2.shape[2:])
        path = s.refinenet2(path, l2, size=l1.shape[2:])
        path = s.refinenet1(path, l1)
        out = s.output_conv1(path)
        out = F.interpolate(out, (h * self.patch_size, w * self.patch_size), mode='bilinear', align_corners=True)
        out = s.output_conv2(out)
        return out * self.max_depth if self.depth_type == 'metric' else F.relu(out)

    def loss(self, taps: List[torch.Tensor], grid: tuple, data_samples: List[DepthDataSample],
             train_cfg: Dict) -> Dict[str, torch.Tensor]:
        """Forward and losses against ``gt_depth`` (see :meth:`BaseDepthHead.loss_by_feat`)."""
        return self.loss_by_feat(self(taps, grid), data_samples, train_cfg)

    def predict(self, taps: List[torch.Tensor], grid: tuple) -> torch.Tensor:
        """Depth [B, 1, H, W] in metres (relative heads: disparity)."""
        return self(taps, grid)
