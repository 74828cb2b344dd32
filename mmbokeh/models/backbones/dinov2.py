"""DINOv2 ViT on timm, exposing Depth Anything V2's taps with its exact position-embedding interpolation."""
from typing import Optional, Sequence

import torch

from mmbokeh.registry import MODELS

from .timm_vit import TimmViT, resample_pos_embed_like_dinov2

DINOV2_ARCHS = {
    's': dict(model_name='vit_small_patch14_dinov2', out_indices=(2, 5, 8, 11)),
    'b': dict(model_name='vit_base_patch14_dinov2', out_indices=(2, 5, 8, 11)),
    'l': dict(model_name='vit_large_patch14_dinov2', out_indices=(4, 11, 17, 23)),
}


@MODELS.register_module()
class DINOv2(TimmViT):
    """DINOv2 encoder of Depth Anything V2 (ViT-S/B/L, patch 14, 518 px native grid of 37 x 37).

    Args:
        arch: 's', 'b' or 'l' (widths 384 / 768 / 1024).
        out_indices: taps; default Depth Anything V2's (S, B: 2 5 8 11; L: 4 11 17 23).
        interpolate_offset, interpolate_antialias: DINOv2's position-embedding resampling (0.1, False), so that the
            outputs equal the official model's at any input size that is a multiple of 14.
    """

    def __init__(self,
                 arch: str = 's',
                 out_indices: Optional[Sequence[int]] = None,
                 interpolate_offset: float = 0.1,
                 interpolate_antialias: bool = False,
                 **kwargs) -> None:
        if arch not in DINOV2_ARCHS:
            raise ValueError(f"DINOv2 arch must be one of {sorted(DINOV2_ARCHS)}, got '{arch}'")
        setting = DINOV2_ARCHS[arch]
        super().__init__(model_name=kwargs.pop('model_name', setting['model_name']),
                         out_indices=setting['out_indices'] if out_indices is None else out_indices, **kwargs)
        self.arch = arch
        self.interpolate_offset = interpolate_offset
        self.interpolate_antialias = interpolate_antialias

    def tokens(self, image: torch.Tensor) -> torch.Tensor:
        grid = self.grid_size(image)
        x = self.vit.patch_embed(image)
        x = x.flatten(1, 2) if x.dim() == 4 else x
        x = torch.cat([self.vit.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        pos = resample_pos_embed_like_dinov2(self.vit.pos_embed, grid, self.interpolate_offset,
                                             self.interpolate_antialias)
        return x + pos.to(x.dtype)
