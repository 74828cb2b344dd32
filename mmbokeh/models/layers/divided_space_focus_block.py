"""Divided space-focus attention block (BokehDepth's DSFA block)."""
import torch
import torch.nn as nn
from timm.layers import Mlp

from .attention import MultiHeadSelfAttention


class DividedSpaceFocusBlock(nn.Module):
    """Spatial attention per frame (a K token prepended), then focus attention across frames per patch.

    Parameter names follow the official ``DividedSpaceFocusBlock`` so its weights load by name.

    Args:
        dim: token width D.
        num_heads: attention heads (official 8).
        mlp_ratio: hidden width of the two MLPs relative to D (official 4).
        alpha: slope of the focus-attention bias ``-alpha * |K_i - K_j|`` (official 1.0).
        layerscale_init: initial LayerScale (official 0.1). 0 with ``init='identity'``.
        init: 'official' or 'identity' (zero LayerScale and zero FiLM: the block returns the reference tokens
            unchanged at initialisation, so inserting it into a pretrained model changes nothing before training).
        official_space_scale: the official space attention scales q by head_dim^-0.5 and then calls
            scaled_dot_product_attention, which scales again (logits x head_dim^-1). True reproduces that.
        k_embed_scale: K is multiplied by this before the K embedding (official 1: raw K). The focus bias always
            uses raw K. With raw K in the tens, training grew the FiLM shift of the stack frames to about 20 times
            their tokens (measured on the synthetic demo), drowning their image content; ``1 / max K`` keeps the
            embedding's input in [0, 1].
    """

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 4.0, alpha: float = 1.0,
                 layerscale_init: float = 0.1, init: str = 'official', official_space_scale: bool = True,
                 k_embed_scale: float = 1.0) -> None:
        super().__init__()
        if init not in ('official', 'identity'):
            raise ValueError(f"init must be 'official' or 'identity', got '{init}'")
        if not k_embed_scale > 0:
            raise ValueError(f'k_embed_scale must be > 0, got {k_embed_scale}')
        head_dim = dim // num_heads
        self.alpha, self.k_embed_scale = alpha, float(k_embed_scale)
        ls = 0.0 if init == 'identity' else layerscale_init
        hidden = int(dim * mlp_ratio)
        self.ln_space_attn = nn.LayerNorm(dim)
        space_scale = head_dim ** -1.0 if official_space_scale else None
        self.space_attn = MultiHeadSelfAttention(dim, num_heads, scale=space_scale)
        self.gamma_space_attn = nn.Parameter(torch.full((dim, ), ls))
        self.ln_space_ffn = nn.LayerNorm(dim)
        self.space_ffn = Mlp(dim, hidden)
        self.gamma_space_ffn = nn.Parameter(torch.full((dim, ), ls))
        self.ln_focus_attn = nn.LayerNorm(dim)
        self.focus_attn = MultiHeadSelfAttention(dim, num_heads)
        self.gamma_focus_attn = nn.Parameter(torch.full((dim, ), ls))
        self.ln_focus_ffn = nn.LayerNorm(dim)
        self.focus_ffn = Mlp(dim, hidden)
        self.gamma_focus_ffn = nn.Parameter(torch.full((dim, ), ls))
        self.k_embed = nn.Sequential(nn.Linear(1, dim // 4), nn.ReLU(True), nn.Linear(dim // 4, dim))
        self.focus_film = nn.Sequential(nn.Linear(dim, dim * 2))
        if init == 'identity':
            nn.init.zeros_(self.focus_film[0].weight)
            nn.init.zeros_(self.focus_film[0].bias)

    def _space(self, x: torch.Tensor, k_tokens: torch.Tensor) -> torch.Tensor:
        B, F, N, D = x.shape
        seq = torch.cat([k_tokens.reshape(B * F, 1, D), x.reshape(B * F, N, D)], dim=1)
        seq = seq + self.gamma_space_attn * self.space_attn(self.ln_space_attn(seq))
        seq = seq + self.gamma_space_ffn * self.space_ffn(self.ln_space_ffn(seq))
        return seq[:, 1:].reshape(B, F, N, D)

    def _focus(self, x: torch.Tensor, k: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        B, F, N, D = x.shape
        scale, shift = film.chunk(2, dim=-1)
        x = x * (1 + torch.tanh(scale)[:, :, None]) + shift[:, :, None]
        bias = -self.alpha * (k[:, :, None] - k[:, None, :]).abs()  # [B, F, F]
        bias = bias[:, None, None].expand(B, N, 1, F, F).reshape(B * N, 1, F, F).to(x.dtype)
        seq = x.transpose(1, 2).reshape(B * N, F, D)
        seq = seq + self.gamma_focus_attn * self.focus_attn(self.ln_focus_attn(seq), bias)
        seq = seq + self.gamma_focus_ffn * self.focus_ffn(self.ln_focus_ffn(seq))
        return seq.reshape(B, N, F, D).transpose(1, 2)

    def forward(self, frames: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """frames [B, F, N, D] tokens of F = S + 1 frames, reference first; k [B, F] strengths (reference 0).

        Returns the reference frame's fused tokens [B, N, D]."""
        k_tokens = self.k_embed(self.k_embed_scale * k[..., None].to(self.k_embed[0].weight.dtype))
        film = self.focus_film(k_tokens).to(frames.dtype)
        x = self._space(frames, k_tokens.to(frames.dtype))
        return self._focus(x, k.to(frames.dtype), film)[:, 0]
