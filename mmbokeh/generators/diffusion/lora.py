"""Low-rank linear layer with the official BokehDepth adapter's parameter names (``down``, ``up``)."""
from typing import Optional

import torch
import torch.nn as nn


class LoRALinear(nn.Module):
    """``up(down(x)) * alpha / rank``: down [rank, in] ~ N(0, 1/rank), up [out, rank] = 0 (starts as zero).

    Runs in its own parameter dtype and returns the input's dtype.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: Optional[float] = None) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f'LoRA rank must be >= 1, got {rank}')
        self.rank, self.alpha = int(rank), alpha
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=False)
        nn.init.normal_(self.down.weight, std=1.0 / rank)
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.up(self.down(x.to(self.down.weight.dtype)))
        if self.alpha is not None:
            out = out * (self.alpha / self.rank)
        return out.to(x.dtype)
