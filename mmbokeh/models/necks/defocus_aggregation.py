"""DefocusAggregation: fuse encoder taps of a bokeh stack along the defocus axis (BokehDepth Stage 2)."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmbokeh.models.layers import DividedSpaceFocusBlock
from mmbokeh.registry import MODELS


@MODELS.register_module()
class DefocusAggregation(BaseModule):
    """One divided space-focus block per fused tap; other taps pass the reference frame's tokens through.

    Args:
        in_channels: encoder token width D.
        fuse_taps: indices into the encoder's taps to fuse (official Depth Anything V2 variant: [2, 3] of 4).
        num_heads, mlp_ratio, alpha, layerscale_init, official_space_scale, k_embed_scale: see
            ``DividedSpaceFocusBlock`` (defaults: the official module).
        init: 'official' (LayerScale ``layerscale_init``) or 'identity' (output = reference tokens at init).

    Forward: taps, a list of [B, F, N, D] (F = S + 1 frames, reference first), and k [B, F] (reference 0)
    -> list of [B, N, D] reference tokens.
    """

    def __init__(self,
                 in_channels: int,
                 fuse_taps: Sequence[int] = (2, 3),
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 alpha: float = 1.0,
                 layerscale_init: float = 0.1,
                 init: str = 'official',
                 official_space_scale: bool = True,
                 k_embed_scale: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fuse_taps = sorted(set(int(t) for t in fuse_taps))
        self.layers = nn.ModuleDict({
            str(t): DividedSpaceFocusBlock(in_channels, num_heads, mlp_ratio, alpha, layerscale_init, init,
                                           official_space_scale, k_embed_scale) for t in self.fuse_taps})

    def init_weights(self) -> None:
        # The blocks initialise themselves (official or identity); mmengine's generic init would undo 'identity'.
        pass

    def forward(self, taps: List[torch.Tensor], k: torch.Tensor) -> List[torch.Tensor]:
        if max(self.fuse_taps, default=-1) >= len(taps):
            raise ValueError(f'fuse_taps {self.fuse_taps} out of range for {len(taps)} encoder taps')
        return [self.layers[str(i)](x, k) if str(i) in self.layers else x[:, 0] for i, x in enumerate(taps)]
