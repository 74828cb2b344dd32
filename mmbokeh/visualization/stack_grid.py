"""Bokeh and focal stacks as a labelled grid of frames."""
import math
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]
#: Frame label templates by name: bokeh strength K, or focus distance in metres.
LABELS = {'k': 'K={:g}', 'focus': 'f={:.2f}m'}


def _label(frame: np.ndarray, text: str) -> None:
    """Write ``text`` in white on a black box at the top-left corner of ``frame`` (in place)."""
    h = frame.shape[0]
    scale = max(0.3, h / 400.0)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    pad = 2
    cv2.rectangle(frame, (0, 0), (tw + 2 * pad, th + base + 2 * pad), (0, 0, 0), thickness=-1)
    cv2.putText(frame, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def make_stack_grid(stack: ArrayLike, k: Union[ArrayLike, Sequence[float]], ncols: Optional[int] = None,
                    label: str = 'k') -> np.ndarray:
    """Tile a bokeh or focal stack into one image, each frame labelled with its value (``K=<value>``).

    Args:
        stack: [S, H, W, 3] frames, values in [0, 255] (rounded and clipped to uint8); channel order is kept.
        k: [S] value of each frame: bokeh strength K (pixels x metres) or focus distance (metres).
        ncols: frames per row; default ceil(sqrt(S)). Unused cells of the last row stay black.
        label: 'k' (``K=10``), 'focus' (``f=0.30m``) or a ``str.format`` template of one value (e.g. ``'f={:.2f}'``
            for normalised focus).

    Returns:
        [rows * H, ncols * W, 3] uint8 image; frame i sits at row i // ncols, column i % ncols.
    """
    if isinstance(stack, torch.Tensor):
        stack = stack.detach().cpu().numpy()
    stack = np.asarray(stack)
    if stack.ndim != 4 or stack.shape[-1] != 3:
        raise ValueError(f'make_stack_grid: stack must be [S, H, W, 3], got {stack.shape}')
    k = np.asarray(k.detach().cpu() if isinstance(k, torch.Tensor) else k, dtype=np.float64).reshape(-1)
    s, h, w, _ = stack.shape
    if k.shape[0] != s:
        raise ValueError(f'make_stack_grid: k has {k.shape[0]} values for {s} stack frames')
    if stack.dtype != np.uint8:
        stack = np.clip(np.round(stack.astype(np.float64)), 0, 255).astype(np.uint8)
    ncols = max(1, math.ceil(math.sqrt(s))) if ncols is None else int(ncols)
    template = LABELS.get(label, label)
    if '{' not in template:
        raise ValueError(f"make_stack_grid: label must be 'k', 'focus' or a format template, got {label!r}")
    if ncols < 1:
        raise ValueError(f'make_stack_grid: ncols must be >= 1, got {ncols}')
    ncols = min(ncols, max(s, 1))
    rows = max(1, math.ceil(s / ncols))
    grid = np.zeros((rows * h, ncols * w, 3), np.uint8)
    for i in range(s):
        frame = stack[i].copy()  # never draw on the caller's array
        _label(frame, template.format(k[i]))
        r, c = divmod(i, ncols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = frame
    return grid
