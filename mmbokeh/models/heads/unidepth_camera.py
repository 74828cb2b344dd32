"""UniDepthV2's camera module: pinhole intrinsics from the class tokens of the encoder taps."""
from typing import List, Tuple

import torch
import torch.nn as nn

from mmbokeh.models.layers.cross_attention_block import CrossAttentionBlock
from mmbokeh.models.layers.prenorm_mlp import PreNormMLP


def intrinsics_matrix(params: torch.Tensor) -> torch.Tensor:
    """``(fx, fy, cx, cy)`` [B, 4] -> K [B, 3, 3] (same units and pixel-centre convention)."""
    fx, fy, cx, cy = params.unbind(-1)
    zero, one = torch.zeros_like(fx), torch.ones_like(fx)
    return torch.stack([fx, zero, cx, zero, fy, cy, zero, zero, one], dim=-1).unflatten(-1, (3, 3))


class UniDepthCameraHead(nn.Module):
    """Camera module of UniDepthV2 (official ``CameraHead`` and ``camera_token_adapter`` of
    ``UniDepth/unidepth/models/unidepthv2/decoder.py``).

    Each tap's class token goes through its own linear adapter (C -> hidden); the T tokens pass a pre-norm MLP
    (``project``) and two self-attention blocks (no q/kv/out bias, LayerScale) whose queries get the learned
    ``latents_pos``; ``out_pinhole`` gives one scalar per token, read as (fx, fy, cx, cy):
    ``fx = exp(t0) * 0.7 * diag``, ``fy = exp(t1) * 0.7 * diag``, ``cx = sigmoid(t2) * W``, ``cy = sigmoid(t3) * H``
    with ``diag = sqrt(H^2 + W^2)`` of the network input. Pixel centres at ``(u + 0.5, v + 0.5)``.

    Args:
        in_channels: encoder width C.
        num_taps: number of class tokens T (4: one per parameter).
        hidden_dim: decoder width.
        num_heads, expansion, layer_scale: of the attention blocks.

    Forward: class tokens, a list of T tensors [B, C], image_size (H, W) pixels -> (fx, fy, cx, cy) [B, 4] pixels.
    """

    def __init__(self, in_channels: int = 1024, num_taps: int = 4, hidden_dim: int = 512, num_heads: int = 8,
                 expansion: float = 4.0, layer_scale: float = 1.0) -> None:
        super().__init__()
        if num_taps != 4:
            raise ValueError(f'UniDepthCameraHead reads one pinhole parameter per tap: needs 4 taps, got {num_taps}')
        self.token_adapters = nn.ModuleList(nn.Linear(in_channels, hidden_dim) for _ in range(num_taps))
        block = dict(dim=hidden_dim, num_heads=num_heads, expansion=expansion, layer_scale=layer_scale,
                     use_bias=False)
        self.aggregate1 = CrossAttentionBlock(**block)
        self.aggregate2 = CrossAttentionBlock(**block)
        self.latents_pos = nn.Parameter(torch.randn(1, num_taps, hidden_dim))
        self.project = PreNormMLP(hidden_dim, expansion=1, output_dim=hidden_dim)
        self.out_pinhole = PreNormMLP(hidden_dim, expansion=1, output_dim=1)

    def forward(self, cls_tokens: List[torch.Tensor], image_size: Tuple[int, int]) -> torch.Tensor:
        tokens = torch.stack([adapter(t) for adapter, t in zip(self.token_adapters, cls_tokens)], dim=1)
        tokens = self.project(tokens)
        pos = self.latents_pos.expand(tokens.shape[0], -1, -1)
        tokens = self.aggregate2(self.aggregate1(tokens, pos_embed=pos), pos_embed=pos)
        t0, t1, t2, t3 = self.out_pinhole(tokens).squeeze(-1).unbind(-1)
        h, w = image_size
        diag = (h ** 2 + w ** 2) ** 0.5
        return torch.stack([t0.exp() * 0.7 * diag, t1.exp() * 0.7 * diag, t2.sigmoid() * w, t3.sigmoid() * h], -1)
