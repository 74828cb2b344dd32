"""The interface every Stage-1 stack backend implements: one :meth:`BokehBackend.render` of a
:class:`StackRequest`, and class attributes saying which request fields the backend reads."""
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, NamedTuple, Optional

import numpy as np

from .k_selection import KSelection


@dataclass(frozen=True)
class StackRequest:
    """What :class:`~mmbokeh.datasets.transforms.BokehStackGenerator` hands a backend for one sample.

    Attributes:
        img: (H, W, 3) BGR image, uint8 or float32 in [0, 255].
        rng: the random generator of this sample (deterministic for a seeded transform).
        k_values: (S,) float32 strengths (pixels x metres) to render (backends with ``needs_k``).
        selection: which stored frames to take (backends without ``needs_k``); None takes them all.
        depth: (H, W) float32 metres aligned with ``img``, 0 or non-finite = invalid (``needs_depth``).
        depth_key: where ``depth`` came from (``'gt_depth'``, ``'pred_depth'``); recorded in the stack's source.
        focus_dist: focus distance in metres (``needs_focus``).
        meta: the sample's non-array results entries (``img_path``, ``sample_idx``, ...) naming it (``needs_meta``).
    """

    img: np.ndarray
    rng: np.random.Generator
    k_values: Optional[np.ndarray] = None
    selection: Optional[KSelection] = None
    depth: Optional[np.ndarray] = None
    depth_key: Optional[str] = None
    focus_dist: Optional[float] = None
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.depth is not None and not self.depth_key:
            raise ValueError('StackRequest with a depth map needs depth_key (where the depth came from: it is '
                             "recorded as the stack's source, e.g. 'physical:gt_depth')")


class RenderedStack(NamedTuple):
    """A backend's answer: frames (S, H, W, 3) with the dtype and channel order of ``img``, their K (S,) float32,
    and what made them (``'physical:gt_depth'``, ``'cached:<how>'``, ``'diffusion:<model>'``)."""

    frames: np.ndarray
    k: np.ndarray
    source: str


class BokehBackend(metaclass=ABCMeta):
    """Turns one sharp image into a stack of the same image at several bokeh strengths K.

    Attributes:
        needs_k: renders the K of ``request.k_values`` (``physical``, ``diffusion``). False: the backend stores
            frames at its own K and takes those ``request.selection`` picks (``cached``).
        needs_depth: reads ``request.depth`` / ``depth_key`` (``physical``).
        needs_focus: reads ``request.focus_dist`` (``physical``).
        needs_meta: reads ``request.meta`` to find the sample (``cached``).
    """

    needs_k: ClassVar[bool] = True
    needs_depth: ClassVar[bool] = False
    needs_focus: ClassVar[bool] = False
    needs_meta: ClassVar[bool] = False

    @abstractmethod
    def render(self, request: StackRequest) -> RenderedStack:
        """The stack of ``request.img``."""


__all__ = ['BokehBackend', 'RenderedStack', 'StackRequest']
