"""UniDepth's upsampling stage: residual conv units (LeakyReLU), a 1x1 conv and 2x bilinear upsampling."""
from typing import Optional

import torch
import torch.nn as nn


class LeakyResidualConvUnit(nn.Module):
    """``x + gamma * conv2(lrelu(conv1(lrelu(x))))`` (official ``ResidualConvUnit`` of
    ``UniDepth/unidepth/layers/upsample.py``; LeakyReLU slope 0.01, zero padding, per-channel gamma).

    Forward: [B, C, H, W] -> [B, C, H, W].
    """

    def __init__(self, dim: int, kernel_size: int = 3, layer_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, kernel_size, padding=(kernel_size - 1) // 2)
        self.conv2 = nn.Conv2d(dim, dim, kernel_size, padding=(kernel_size - 1) // 2)
        self.activation = nn.LeakyReLU()
        self.gamma = nn.Parameter(torch.full((1, dim, 1, 1), float(layer_scale))) if layer_scale > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.activation(self.conv1(self.activation(x))))
        return x + (out if self.gamma is None else self.gamma * out)


class ResUpsampleBilinear(nn.Module):
    """``num_layers`` residual units, a 1x1 conv to ``output_dim`` and 2x bilinear upsampling (align_corners=False)
    (official ``ResUpsampleBil``).

    Forward: [B, dim, h, w] -> [B, output_dim, 2h, 2w].
    """

    def __init__(self, dim: int, output_dim: Optional[int] = None, num_layers: int = 2, kernel_size: int = 3,
                 layer_scale: float = 1.0) -> None:
        super().__init__()
        output_dim = dim // 2 if output_dim is None else output_dim
        self.convs = nn.ModuleList(LeakyResidualConvUnit(dim, kernel_size, layer_scale) for _ in range(num_layers))
        self.up = nn.Sequential(nn.Conv2d(dim, output_dim, 1),
                                nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(x)
        return self.up(x)
