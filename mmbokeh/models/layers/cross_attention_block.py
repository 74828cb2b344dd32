"""UniDepth's attention block: pre-norm (cross-)attention and a pre-norm MLP, each with a residual."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import LayerScale

from .prenorm_mlp import PreNormMLP


class CrossAttentionBlock(nn.Module):
    """Attention of queries ``x`` over a context (itself when none), then an MLP (official ``AttentionBlock`` of
    ``UniDepth/unidepth/layers/attention.py``, parameter names kept).

    ``x + ls1(out(sdpa(q(norm_attnx(x)) + pos, kv(norm_attnctx(context)))))``, then ``x + ls2(mlp(x))``; the
    optional ``pos_embed`` is added to the projected queries only; the logit scale is SDPA's head_dim^-0.5.

    Args:
        dim: query width.
        num_heads: heads (``dim`` divisible by it).
        expansion: MLP hidden width relative to ``dim``.
        layer_scale: LayerScale init; <= 0 means no LayerScale (identity), as the camera prompts of the depth
            decoder use.
        context_dim: context width (default ``dim``).
        use_bias: bias of the q, kv and out projections.

    Forward: x [B, N, dim], context [B, M, context_dim] or None, pos_embed [B, N, dim] or None -> [B, N, dim].
    """

    def __init__(self, dim: int, num_heads: int = 8, expansion: float = 4.0, layer_scale: float = 1.0,
                 context_dim: Optional[int] = None, use_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'attention width {dim} is not divisible by num_heads={num_heads}')
        context_dim = context_dim or dim
        self.num_heads = num_heads
        self.mlp = PreNormMLP(dim, expansion=expansion)
        self.kv = nn.Linear(context_dim, dim * 2, bias=use_bias)
        self.q = nn.Linear(dim, dim, bias=use_bias)
        self.norm_attnx = nn.LayerNorm(dim)
        self.norm_attnctx = nn.LayerNorm(context_dim)
        self.out = nn.Linear(dim, dim, bias=use_bias)
        self.ls1 = LayerScale(dim, layer_scale) if layer_scale > 0 else nn.Identity()
        self.ls2 = LayerScale(dim, layer_scale) if layer_scale > 0 else nn.Identity()

    def attn(self, x: torch.Tensor, context: torch.Tensor, pos_embed: Optional[torch.Tensor]) -> torch.Tensor:
        """Attention part only: x [B, N, dim], context [B, M, C] -> [B, N, dim]."""
        B, N, D = x.shape
        heads, head_dim = self.num_heads, D // self.num_heads
        kv = self.kv(self.norm_attnctx(context)).unflatten(-1, (2, heads, head_dim))  # kv outermost, as einops
        k, v = kv.permute(2, 0, 3, 1, 4)
        q = self.q(self.norm_attnx(x))
        if pos_embed is not None:
            q = q + pos_embed
        q = q.unflatten(-1, (heads, head_dim)).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out(out.transpose(1, 2).reshape(B, N, D))

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x + self.ls1(self.attn(x, x if context is None else context, pos_embed))
        return x + self.ls2(self.mlp(x))
