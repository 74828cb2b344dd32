"""ASPP with dense connections between its 1x1 and atrous branches (the encoder context module of SDNet's DepthNet)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmbokeh.registry import MODELS


@MODELS.register_module()
class DenseASPP(BaseModule):
    """Atrous spatial pyramid pooling whose branches are densely connected.

    DeepLabV3's ASPP (Chen et al., 2017) runs a 1x1 conv, atrous 3x3 convs and image pooling side by side on the same
    input. Here, as in DenseASPP (Yang et al., CVPR 2018) and SDNet's "improved ASPP", branch ``k`` (the 1x1 conv is
    branch 0, then one atrous 3x3 conv per dilation) reads the concatenation of the input and the outputs of all
    branches before it, so the later, wider-dilation branches see the finer ones' features. The image-pooling branch
    (global average, 1x1 conv, broadcast back) reads the input. The concatenation of every branch is projected to
    ``channels`` by a 1x1 conv.

    Args:
        in_channels: channels of the input.
        channels: width of each branch and of the output.
        dilations: dilations of the atrous 3x3 branches, in order (padding = dilation, so H, W are kept for any size).
        norm_cfg: norm of the conv branches and of the projection (mmcv config).
        act_cfg: activation of every branch and of the projection (mmcv config).
        init_cfg: mmengine init config.

    The pooling branch has a bias and no norm: it sees one value per channel and sample, which batch norm cannot
    normalise in training at batch size 1.

    Forward: x [B, in_channels, H, W] -> [B, channels, H, W].
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 dilations: Sequence[int] = (3, 6, 12, 18),
                 norm_cfg: Optional[Dict] = dict(type='BN'),
                 act_cfg: Optional[Dict] = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1 or channels < 1:
            raise ValueError(f'DenseASPP in_channels and channels must be >= 1, got {in_channels} and {channels}')
        dilations = tuple(dilations)
        if not dilations or any(not isinstance(d, int) or d < 1 for d in dilations):
            raise ValueError(f'DenseASPP dilations must be a non-empty sequence of ints >= 1, got {list(dilations)}')
        self.in_channels, self.channels, self.dilations = in_channels, channels, dilations
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1x1 = ConvModule(in_channels, channels, 1, **conv)
        self.atrous = nn.ModuleList(
            ConvModule(in_channels + (i + 1) * channels, channels, 3, padding=d, dilation=d, **conv)
            for i, d in enumerate(dilations))
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvModule(in_channels, channels, 1, norm_cfg=None, act_cfg=act_cfg))
        self.project = ConvModule((len(dilations) + 2) * channels, channels, 1, **conv)

    def forward_branches(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x [B, in_channels, H, W] -> [1x1, atrous per dilation..., image pooling], each [B, channels, H, W]."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'DenseASPP expects x of shape [B, {self.in_channels}, H, W], got {tuple(x.shape)}')
        branches = [self.conv1x1(x)]
        for conv in self.atrous:
            branches.append(conv(torch.cat([x] + branches, dim=1)))
        pooled = self.image_pool(x)
        branches.append(pooled.expand(-1, -1, *x.shape[-2:]))
        return branches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, in_channels, H, W] -> [B, channels, H, W]."""
        return self.project(torch.cat(self.forward_branches(x), dim=1))

