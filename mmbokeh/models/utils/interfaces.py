"""What estimators expect of their parts: declared attributes instead of probing.

A backbone that an estimator taps (``TapBackbone``) and a neck that fuses a stack of frames (``StackFusionNeck``)
are checked when the estimator is built, so a wrong part fails at construction with the missing attribute named.
"""
from typing import List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import torch


@runtime_checkable
class TapBackbone(Protocol):
    """An encoder whose token maps are tapped after chosen blocks.

    Attributes:
        embed_dim: token width C.
        patch_size: pixels per token side.
        num_taps: number of taps the forward returns.
    """

    embed_dim: int
    patch_size: int
    num_taps: int

    def grid_size(self, image: torch.Tensor) -> Tuple[int, int]:
        """(h, w) tokens of an image [B, 3, H, W]; raises if H, W are not multiples of ``patch_size``."""

    def forward(self, image: torch.Tensor, num_taps: Optional[int] = None) -> List[torch.Tensor]:
        """The first ``num_taps`` (None: all) taps, each [B, h*w, C], running only the blocks they need."""


@runtime_checkable
class StackFusionNeck(Protocol):
    """A neck that fuses the taps of a reference frame and its stack frames into reference tokens.

    Attributes:
        in_channels: token width C it expects.
        fuse_taps: sorted indices of the taps it fuses; the others pass the reference tokens through.
    """

    in_channels: int
    fuse_taps: Sequence[int]

    def stack_taps(self, num_taps: int) -> int:
        """How many of the first taps (of ``num_taps``) the neck reads from the stack frames."""

    def forward(self, taps: List[torch.Tensor], k: torch.Tensor) -> List[torch.Tensor]:
        """taps: list of [B, F, N, C] (F frames, reference first; [B, 1, N, C] for taps not read from the stack);
        k: [B, F] strengths (reference 0) -> list of [B, N, C] reference tokens."""


def check_part(part: object, interface: type, role: str) -> None:
    """Raise ``TypeError`` naming the missing attributes when ``part`` does not implement ``interface``."""
    if isinstance(part, interface):
        return
    names = list(getattr(interface, '__annotations__', {}))
    names += [n for n, v in vars(interface).items() if callable(v) and not n.startswith('_')]
    wanted = [n for n in names if not hasattr(part, n)]
    raise TypeError(f'{role} {type(part).__name__} does not implement {interface.__name__}: missing {wanted}')


def build_stack_neck(cfg: Optional[dict], backbone: TapBackbone, registry) -> Optional[StackFusionNeck]:
    """Build a stack-fusing neck from ``cfg`` (None: no neck) and check it fits ``backbone``: it implements
    :class:`StackFusionNeck`, its ``in_channels`` is the backbone's ``embed_dim`` and its taps exist."""
    if cfg is None:
        return None
    neck = registry.build(cfg)
    check_part(neck, StackFusionNeck, 'neck')
    if neck.in_channels != backbone.embed_dim:
        raise ValueError(f'neck {type(neck).__name__} in_channels={neck.in_channels} but the backbone '
                         f'{type(backbone).__name__} gives tokens of width embed_dim={backbone.embed_dim}; set '
                         f'model.neck.in_channels={backbone.embed_dim}')
    neck.stack_taps(backbone.num_taps)  # raises when fuse_taps are outside the encoder's taps
    return neck
