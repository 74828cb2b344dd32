"""Pre-norm MLP of UniDepth (LayerNorm -> Linear -> GELU -> Linear)."""
from typing import Optional

import torch
import torch.nn as nn


class PreNormMLP(nn.Module):
    """``proj2(gelu(proj1(norm(x))))`` (official ``UniDepth/unidepth/layers/mlp.py``, parameter names kept).

    Args:
        dim: input width.
        expansion: hidden width is ``int(dim * expansion)``.
        output_dim: output width (default ``dim``).

    Forward: [..., dim] -> [..., output_dim].
    """

    def __init__(self, dim: int, expansion: float = 4.0, output_dim: Optional[int] = None) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.norm = nn.LayerNorm(dim)
        self.proj1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.proj2 = nn.Linear(hidden, dim if output_dim is None else output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj2(self.act(self.proj1(self.norm(x))))
