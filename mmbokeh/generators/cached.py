"""``cached`` backend: stacks made offline (official BokehDepth tool or ``tools/make_bokeh_stacks.py``)."""
import os.path as osp
from typing import Optional

import cv2
import numpy as np

from mmbokeh.registry import BOKEH_BACKENDS

from .base import BokehBackend, RenderedStack, StackRequest
from .stack_cache import read_frames, read_stack_index, sample_key, stack_dir


@BOKEH_BACKENDS.register_module('cached')
class CachedBackend(BokehBackend):
    """Read ``<root>/<sample key>/defocus_stack/{i}.png`` and the K of each frame from ``stack_index.json``.

    The sample key comes from ``request.meta`` (see ``sample_key``); ``request.selection`` picks the frames (all of
    them without one). Which stacks are honest inputs depends on how they were made (``bokeh_source`` / ``method``
    in the index, recorded as ``'cached:<how>'``; ``docs/design.md``, "Honesty rule"): a stack rendered from
    ground-truth depth is legitimate only for depth from defocus and Stage-1 training pairs.

    Args:
        root: folder holding the per-sample stack folders.
        data_root: the dataset's root, to name samples by ``img_path`` relative to it (see ``sample_key``).
        key_template: alternative sample naming, e.g. ``'{sample_idx:06d}'``.
        resize: frames whose size differs from ``img`` (the official tool floors sizes to multiples of 16 and may
            resize) are resized to the image (cv2 INTER_AREA when shrinking, INTER_LINEAR otherwise); False raises.
    """

    needs_k = False
    needs_meta = True

    def __init__(self, root: str, data_root: Optional[str] = None, key_template: Optional[str] = None,
                 resize: bool = True) -> None:
        if not osp.isdir(root):
            raise FileNotFoundError(
                f"bokeh stack root '{root}' does not exist. Make the stacks first (official layout "
                f"<root>/<sample>/defocus_stack/{{i}}.png + stack_index.json), e.g.\n"
                f"    python tools/make_bokeh_stacks.py configs/bokeh_generator/diffusion_nyu.py --out {root}\n"
                f"or point the config's BokehStackGenerator backend.root at them.")
        self.root, self.data_root, self.key_template = root, data_root, key_template
        self.resize = bool(resize)

    def render(self, request: StackRequest) -> RenderedStack:
        folder = stack_dir(self.root, sample_key(dict(request.meta), self.data_root, self.key_template))
        ids, k, index = read_stack_index(folder)
        if request.selection is not None:
            pick = request.selection.select(k, request.rng, where=str(folder))
            ids, k = [ids[i] for i in pick], k[pick]
        h, w = request.img.shape[:2]
        frames = []
        for i, frame in zip(ids, read_frames(folder, ids)):
            if frame.shape[:2] != (h, w):
                if not self.resize:
                    raise ValueError(f'{folder}/{i}.png is {frame.shape[1]}x{frame.shape[0]} but the image is {w}x{h} '
                                     '(set resize=True to resize stack frames to the image)')
                shrink = frame.shape[0] * frame.shape[1] > h * w
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            frames.append(frame)
        made_by = index.get('bokeh_source') or index.get('method') or 'unknown'
        return RenderedStack(np.stack(frames).astype(request.img.dtype), k.astype(np.float32), f'cached:{made_by}')
