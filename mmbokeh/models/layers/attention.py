"""Multi-head self-attention on scaled_dot_product_attention, with an additive bias."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over [B, L, D] tokens (parameter names ``qkv`` / ``out_proj`` as in official BokehDepth).

    Args:
        dim: token width D.
        num_heads: heads; D must be divisible by it.
        scale: logit scale; default ``head_dim ** -0.5``.
    """

    def __init__(self, dim: int, num_heads: int = 8, scale: Optional[float] = None) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'attention width {dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5 if scale is None else scale
        self.qkv = nn.Linear(dim, dim * 3)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x [B, L, D]; bias broadcastable to [B, heads, L, L] (added to the logits) -> [B, L, D]."""
        B, L, D = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        return self.out_proj(out.transpose(1, 2).reshape(B, L, D))
