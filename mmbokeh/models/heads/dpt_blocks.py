"""DPT building blocks with Depth Anything V2's module names (so official weights load by name)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualConvUnit(nn.Module):
    """Pre-activation residual unit: x + conv2(relu(conv1(relu(x)))). [B, C, H, W] -> same."""

    def __init__(self, features: int, use_bn: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1, bias=not use_bn)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1, bias=not use_bn)
        if use_bn:
            self.bn1 = nn.BatchNorm2d(features)
            self.bn2 = nn.BatchNorm2d(features)
        self.use_bn = use_bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(x))
        out = self.bn1(out) if self.use_bn else out
        out = self.conv2(F.relu(out))
        out = self.bn2(out) if self.use_bn else out
        return out + x


class FeatureFusionBlock(nn.Module):
    """Fuse a coarser path with a skip feature, upsample (x2 or to ``size``), 1x1 conv."""

    def __init__(self, features: int, use_bn: bool = False) -> None:
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features, use_bn)
        self.resConfUnit2 = ResidualConvUnit(features, use_bn)
        self.out_conv = nn.Conv2d(features, features, 1)

    def forward(self, x: torch.Tensor, skip: Optional[torch.Tensor] = None,
                size: Optional[tuple] = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        resize = dict(scale_factor=2) if size is None else dict(size=tuple(size))
        x = F.interpolate(x, mode='bilinear', align_corners=True, **resize)
        return self.out_conv(x)
