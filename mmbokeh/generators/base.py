"""The interface every Stage-1 stack backend implements."""
from abc import ABCMeta, abstractmethod
from typing import Dict, Optional, Tuple

import numpy as np


class BokehBackend(metaclass=ABCMeta):
    """Turns one sharp image (a results dict) into a stack of the same image at several bokeh strengths K.

    Attributes:
        needs_k: the backend renders the K values it is given (``physical``, ``diffusion``); a ``cached`` backend
            reads the K values stored with its frames and only selects among them.
        needs_focus: the backend needs a focus distance in metres (``physical``).
    """

    needs_k: bool = True
    needs_focus: bool = False

    @abstractmethod
    def render(self, results: Dict, k_values: Optional[np.ndarray], focus_dist: Optional[float],
               rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, str]:
        """Make the stack of ``results['img']``.

        Args:
            results: the transform's results dict; ``img`` is (H, W, 3) BGR (uint8, or float32 in [0, 255]).
            k_values: (S,) float32 strengths (pixels x metres) to render, or None (``cached``: every stored frame).
            focus_dist: focus distance in metres, for backends with ``needs_focus``.
            rng: the random generator of this sample (deterministic for a seeded transform).

        Returns:
            ``(stack, k, source)``: stack (S, H, W, 3) with the dtype and channel order of ``img``, k (S,) float32,
            and a short string naming what made the stack (recorded as ``results['bokeh_source']``).
        """
