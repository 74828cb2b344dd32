"""DINOv2 encoder of UniDepthV2 on timm: taps with their class tokens, final LayerNorm eps 1e-5."""
from typing import List, Optional, Sequence, Tuple

import torch

from mmbokeh.registry import MODELS

from .dinov2 import DINOv2

#: UniDepthV2's taps (``output_idx`` 1-based in its configs, e.g. [6, 12, 18, 24] for ViT-L), 0-based here.
UNIDEPTH_TAPS = {'s': (2, 5, 8, 11), 'b': (2, 5, 8, 11), 'l': (5, 11, 17, 23)}


@MODELS.register_module()
class UniDepthDINOv2(DINOv2):
    """DINOv2 ViT as UniDepthV2 runs it (official ``UniDepth/unidepth/models/backbones/dinov2.py``).

    Differences from :class:`DINOv2` (Depth Anything V2's settings), all from the official code:

    - the final ``norm`` is ``nn.LayerNorm(embed_dim)`` with eps 1e-5 (timm and Depth Anything V2 use 1e-6), and it
      is applied to every tap;
    - position embeddings are resampled bicubically to the token grid by size (``interpolate_offset`` 0), without
      antialias, and returned unchanged for the native square grid;
    - the class token of every tap is returned as well (the camera module reads them);
    - the patch embedding is frozen (``frozen_stages=0`` runs it under ``no_grad`` in the official model).

    Args:
        arch: 's', 'b' or 'l'.
        out_indices: 0-based blocks to tap; default ViT-L 5 11 17 23 (official ``output_idx`` [6, 12, 18, 24]),
            ViT-S/B 2 5 8 11.
        final_norm_eps: eps of the final LayerNorm (official 1e-5).
        frozen_patch_embed: no gradient into the patch embedding (official).
        **kwargs: as :class:`DINOv2` (``with_cp``, ``frozen``, ``pretrained``, timm arguments).

    Forward: image [B, 3, H, W] (H, W multiples of 14) -> list of patch tokens [B, h*w, C] (``TapBackbone``);
    :meth:`forward_with_cls` also returns the class tokens [B, C] of the same taps.
    """

    def __init__(self,
                 arch: str = 'l',
                 out_indices: Optional[Sequence[int]] = None,
                 final_norm_eps: float = 1e-5,
                 frozen_patch_embed: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault('interpolate_offset', 0.0)
        kwargs.setdefault('interpolate_antialias', False)
        if out_indices is None and arch in UNIDEPTH_TAPS:
            out_indices = UNIDEPTH_TAPS[arch]
        super().__init__(arch=arch, out_indices=out_indices, **kwargs)
        self.vit.norm.eps = float(final_norm_eps)
        if frozen_patch_embed:
            self.vit.patch_embed.requires_grad_(False)

    def forward_with_cls(self, image: torch.Tensor,
                         num_taps: Optional[int] = None) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """(patch tokens [B, h*w, C] per tap, class tokens [B, C] per tap), both after the final norm; with
        ``num_taps`` only the first ``num_taps`` taps, running only the blocks they need."""
        taps = self.normed_taps(image, num_taps)
        return [t[:, self.vit.num_prefix_tokens:] for t in taps], [t[:, 0] for t in taps]
