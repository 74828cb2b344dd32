"""Any timm Vision Transformer as a tap-exposing backbone."""
import math
from typing import FrozenSet, List, Optional, Sequence, Union

import timm
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.utils.checkpoint import checkpoint

from mmbokeh.registry import MODELS


@MODELS.register_module()
class TimmViT(BaseModule):
    """A timm ViT whose normalised patch tokens are tapped after chosen blocks.

    Args:
        model_name: timm model name (built with ``pretrained=False``; weights come from ``pretrained`` or a checkpoint).
        out_indices: block indices to tap (0-based, ``len(blocks)`` taps max).
        pretrained: optional local path to a state dict with timm key names.
        with_cp: activation checkpointing while training: True (every block), False (none), or the indices of the
            blocks to checkpoint (e.g. ``[0, 2, 4, 6, 8, 10]``: half the memory saving for half the recomputation;
            see ``docs/performance.md``). A checkpointed block keeps only its input and recomputes the rest in the
            backward pass.
        frozen: freeze all parameters and keep the module in eval mode.
        **timm_kwargs: passed to ``timm.create_model`` (e.g. ``img_size``, ``drop_path_rate``).

    Forward: image [B, 3, H, W] (H, W multiples of the patch size) -> tuple of patch tokens [B, h*w, C], one per tap,
    after the final norm, with ``self.grid_size(image)`` = (h, w).
    """

    def __init__(self,
                 model_name: str,
                 out_indices: Sequence[int],
                 pretrained: Optional[str] = None,
                 with_cp: Union[bool, Sequence[int]] = False,
                 frozen: bool = False,
                 init_cfg: Optional[dict] = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        timm_kwargs.setdefault('dynamic_img_size', True)
        self.vit = timm.create_model(model_name, pretrained=False, num_classes=0, **timm_kwargs)
        depth = len(self.vit.blocks)
        bad = [i for i in out_indices if not -depth <= i < depth]
        if bad:
            raise ValueError(f'out_indices {list(out_indices)} out of range for {model_name} with {depth} blocks')
        self.out_indices = [i % depth for i in out_indices]
        if not self.out_indices or len(set(self.out_indices)) != len(self.out_indices):
            raise ValueError(f'out_indices must be distinct block indices, got {list(out_indices)}')
        self.embed_dim: int = self.vit.embed_dim
        self.patch_size: int = self.vit.patch_embed.patch_size[0]
        self.set_with_cp(with_cp)
        self.frozen = frozen
        if pretrained is not None:
            self.load_pretrained(pretrained)
        if frozen:
            self.requires_grad_(False)

    def set_with_cp(self, with_cp: Union[bool, Sequence[int]]) -> None:
        """Set the activation-checkpointing policy (see the class arguments); ``self.cp_blocks`` lists the blocks."""
        depth = len(self.vit.blocks)
        if isinstance(with_cp, bool):
            blocks: FrozenSet[int] = frozenset(range(depth)) if with_cp else frozenset()
        else:
            indices = list(with_cp) if isinstance(with_cp, (list, tuple, range)) else None
            if indices is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
                raise TypeError(f'with_cp must be a bool or a list of block indices, got {with_cp!r}')
            bad = [i for i in indices if not -depth <= i < depth]
            if bad:
                raise ValueError(f'with_cp block indices {bad} out of range for {depth} blocks')
            blocks = frozenset(i % depth for i in indices)
        self.with_cp = with_cp
        self.cp_blocks = blocks

    @property
    def num_taps(self) -> int:
        """Number of taps the forward returns (``len(out_indices)``)."""
        return len(self.out_indices)

    def load_pretrained(self, path: str) -> None:
        """Load a local state dict (timm key names; DINOv2's extra ``mask_token`` is ignored)."""
        state = torch.load(path, map_location='cpu', weights_only=True)
        state = state.get('state_dict', state.get('model', state))
        state = {k: v for k, v in state.items() if k != 'mask_token'}
        missing, unexpected = self.vit.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f'{path}: missing keys {missing[:5]}..., unexpected keys {unexpected[:5]}...')

    def train(self, mode: bool = True) -> 'TimmViT':
        return super().train(mode and not self.frozen)

    def init_weights(self) -> None:
        # timm initialises itself; a checkpoint or ``pretrained`` overrides it. Skip mmengine's generic init.
        pass

    def grid_size(self, image: torch.Tensor) -> tuple:
        h, w = image.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'image size {h}x{w} must be a multiple of the patch size {self.patch_size}')
        return h // self.patch_size, w // self.patch_size

    def tokens(self, image: torch.Tensor) -> torch.Tensor:
        """Patch-embedded tokens with prefix tokens and position embedding: [B, P + h*w, C]."""
        x = self.vit.patch_embed(image)
        x = self.vit._pos_embed(x)
        return self.vit.norm_pre(self.vit.patch_drop(x))

    def forward(self, image: torch.Tensor, num_taps: Optional[int] = None,
                with_cp: Optional[bool] = None) -> List[torch.Tensor]:
        """Taps of ``image``; with ``num_taps`` only the first ``num_taps`` of them, running only the blocks they
        need (a bokeh stack fused at shallow taps skips the deeper blocks). ``with_cp=False`` turns activation
        checkpointing off for this call (None: the backbone's policy)."""
        return [t[:, self.vit.num_prefix_tokens:] for t in self.normed_taps(image, num_taps, with_cp)]

    def normed_taps(self, image: torch.Tensor, num_taps: Optional[int] = None,
                    with_cp: Optional[bool] = None) -> List[torch.Tensor]:
        """All tokens (prefix tokens first) after the final norm at each tap, [B, P + h*w, C]; see :meth:`forward`."""
        self.grid_size(image)
        if num_taps is not None and not 1 <= num_taps <= self.num_taps:
            raise ValueError(f'num_taps must be in [1, {self.num_taps}], got {num_taps}')
        x = self.tokens(image)
        taps, last = [], sorted(self.out_indices)[(num_taps or self.num_taps) - 1]
        cp_blocks = self.cp_blocks if with_cp is not False and self.training else frozenset()
        for i, block in enumerate(self.vit.blocks[:last + 1]):
            if i in cp_blocks and x.requires_grad:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i in self.out_indices:
                taps.append(self.vit.norm(x))
        return taps


def resample_pos_embed_like_dinov2(pos_embed: torch.Tensor, grid: tuple, offset: float = 0.1,
                                   antialias: bool = False) -> torch.Tensor:
    """DINOv2's (and Depth Anything V2's) position-embedding interpolation.

    pos_embed [1, 1 + M*M, C] (class token first), grid (h, w) patches -> [1, 1 + h*w, C]. Bicubic with
    ``scale_factor = (h + offset) / M, (w + offset) / M`` and no antialias, exactly as the official code, whose sampling
    positions follow the scale factor and therefore differ from timm's size-based (antialiased) resampling.
    """
    n = int(pos_embed.shape[1]) - 1
    m = math.isqrt(n)
    h, w = grid
    if n == h * w and h == w:
        return pos_embed
    dtype = pos_embed.dtype
    pos_embed = pos_embed.float()
    patch = pos_embed[:, 1:].reshape(1, m, m, -1).permute(0, 3, 1, 2)
    if offset:
        kwargs = dict(scale_factor=((int(h) + offset) / m, (int(w) + offset) / m))  # floats, also when traced
    else:
        kwargs = dict(size=(h, w))
    patch = nn.functional.interpolate(patch, mode='bicubic', antialias=antialias, **kwargs)
    if patch.shape[-2:] != (h, w):
        raise RuntimeError(f'position embedding resampled to {tuple(patch.shape[-2:])}, expected {(h, w)}')
    patch = patch.permute(0, 2, 3, 1).reshape(1, h * w, -1)
    return torch.cat([pos_embed[:, :1], patch], dim=1).to(dtype)
