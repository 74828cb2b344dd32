"""``cached`` backend: stacks made offline (official BokehDepth tool or ``tools/make_bokeh_stacks.py``)."""
import os.path as osp
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from .base import BokehBackend
from .registry import BACKENDS
from .stack_cache import read_frames, read_stack_index, sample_key, stack_dir


@BACKENDS.register_module('cached')
class CachedBackend(BokehBackend):
    """Read ``<root>/<sample key>/defocus_stack/{i}.png`` and the K of each frame from ``stack_index.json``.

    Which stacks are honest inputs depends on how they were made (``bokeh_source`` / ``method`` in the index): a
    stack rendered from ground-truth depth is legitimate only for depth from defocus and Stage-1 training pairs.

    Args:
        root: folder holding the per-sample stack folders.
        data_root: the dataset's root, to name samples by ``img_path`` relative to it (see ``sample_key``).
        key_template: alternative sample naming, e.g. ``'{sample_idx:06d}'``.
        resize: frames whose size differs from ``img`` (the official tool floors sizes to multiples of 16 and may
            resize) are resized to the image (cv2 INTER_AREA when shrinking, INTER_LINEAR otherwise); False raises.
        k_atol: tolerance when selecting requested K values among the stored ones.
    """

    needs_k = False

    def __init__(self, root: str, data_root: Optional[str] = None, key_template: Optional[str] = None,
                 resize: bool = True, k_atol: float = 1e-3) -> None:
        if not osp.isdir(root):
            raise FileNotFoundError(
                f"bokeh stack root '{root}' does not exist. Make the stacks first (official layout "
                f"<root>/<sample>/defocus_stack/{{i}}.png + stack_index.json), e.g.\n"
                f"    python tools/make_bokeh_stacks.py configs/bokeh_generator/diffusion_nyu.py --out {root}\n"
                f"or point the config's BokehStackGenerator backend.root at them.")
        self.root, self.data_root, self.key_template = root, data_root, key_template
        self.resize, self.k_atol = bool(resize), float(k_atol)

    def render(self, results: Dict, k_values: Optional[np.ndarray], focus_dist: Optional[float],
               rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, str]:
        folder = stack_dir(self.root, sample_key(results, self.data_root, self.key_template))
        ids, k, index = read_stack_index(folder)
        if k_values is not None:
            pick = []
            for want in np.asarray(k_values, np.float32).reshape(-1):
                hit = np.flatnonzero(np.abs(k - want) <= self.k_atol)
                if hit.size == 0:
                    raise KeyError(f'{folder}: no stored frame with K = {want:g} (stored K: {k.tolist()})')
                pick.append(int(hit[0]))
            ids, k = [ids[i] for i in pick], k[pick]
        img = results['img']
        h, w = img.shape[:2]
        frames = []
        for i, frame in zip(ids, read_frames(folder, ids)):
            if frame.shape[:2] != (h, w):
                if not self.resize:
                    raise ValueError(f'{folder}/{i}.png is {frame.shape[1]}x{frame.shape[0]} but the image is {w}x{h} '
                                     '(set resize=True to resize stack frames to the image)')
                shrink = frame.shape[0] * frame.shape[1] > h * w
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            frames.append(frame)
        stack = np.stack(frames).astype(img.dtype)
        made_by = index.get('bokeh_source') or index.get('method') or 'unknown'
        return stack, k.astype(np.float32), f'cached:{made_by}'
