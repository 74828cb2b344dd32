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

    Forward: taps, a list of [B, F, N, D] (F = S + 1 frames, reference first; taps not fused may be [B, 1, N, D]),
    and k [B, F] (reference 0) -> list of [B, N, D] reference tokens.
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
        taps = list(fuse_taps)
        if not taps or any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in taps):
            raise ValueError(f'DefocusAggregation fuse_taps must be a non-empty list of tap indices >= 0 '
                             f'(e.g. [2, 3] of the 4 DPT taps), got {fuse_taps!r}')
        self.fuse_taps = sorted(set(taps))
        self.in_channels = int(in_channels)
        self.layers = nn.ModuleDict({
            str(t): DividedSpaceFocusBlock(in_channels, num_heads, mlp_ratio, alpha, layerscale_init, init,
                                           official_space_scale, k_embed_scale) for t in self.fuse_taps})

    def init_weights(self) -> None:
        # The blocks initialise themselves (official or identity); mmengine's generic init would undo 'identity'.
        pass

    def stack_taps(self, num_taps: int) -> int:
        """How many of the first taps (of ``num_taps``) are read from the stack frames: up to the deepest fused."""
        if self.fuse_taps[-1] >= num_taps:
            raise ValueError(f'DefocusAggregation fuse_taps {self.fuse_taps} out of range for an encoder with '
                             f'{num_taps} taps (valid: 0 to {num_taps - 1})')
        return self.fuse_taps[-1] + 1

    def forward(self, taps: List[torch.Tensor], k: torch.Tensor) -> List[torch.Tensor]:
        if max(self.fuse_taps, default=-1) >= len(taps):
            raise ValueError(f'fuse_taps {self.fuse_taps} out of range for {len(taps)} encoder taps')
        return [self.layers[str(i)](x, k) if str(i) in self.layers else x[:, 0] for i, x in enumerate(taps)]
