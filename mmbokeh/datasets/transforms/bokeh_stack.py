"""BokehStackGenerator: Stage 1 of BokehDepth as a data transform (one sharp image -> a stack at several K)."""
import zlib
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmbokeh.generators import build_backend
from mmbokeh.generators.focus import FocusSpec, focus_description, parse_focus, select_focus
from mmbokeh.registry import TRANSFORMS

#: Official BokehDepth values: Stage-1 K range, inference default, offline-tool sequence.
OFFICIAL_K_RANGE = (1.0, 30.0)
OFFICIAL_INFERENCE_K = (10.0, 20.0, 30.0)
OFFICIAL_STACK_TOOL_K = (1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0)


@TRANSFORMS.register_module()
class BokehStackGenerator(BaseTransform):
    """Add a bokeh stack of ``img``: the same image at S calibrated bokeh strengths K (pixels x metres).

    Put it after loading and before the geometric transforms (RandomCrop, RandomFlip, ResizeToMultiple keep the
    stack aligned with the image). The reference frame (K = 0) is ``img`` itself and is not part of the stack unless
    0 is asked for.

    Honesty rule (DESIGN section 3): which stacks are legitimate depends on the task. A physical stack from the
    ground-truth depth leaks the answer and is valid only for depth from defocus and Stage-1 training pairs; a
    monocular-depth benchmark must use the ``diffusion`` or ``cached`` backends or a depth model's own prediction.
    ``results['bokeh_source']`` always says what made the stack (``'physical:gt_depth'``,
    ``'physical:pred_depth'``, ``'diffusion:<model>'``, ``'cached:<how it was made>'``).

    K values, one of:
        - ``k_values=[10, 20, 30]``: these values (official inference default; ``OFFICIAL_STACK_TOOL_K`` is the
          offline tool's sequence);
        - ``k_range=(lo, hi), num_k=n``: ``n`` values evenly spaced from lo to hi;
        - ``k_range=(lo, hi), num_k=n, random_k=True``: ``n`` values drawn uniformly in [lo, hi], sorted (training;
          the official Stage-1 range is ``OFFICIAL_K_RANGE``).
        A ``cached`` backend stores its own K: ``k_values`` then selects stored frames, ``random_k`` draws ``num_k``
        stored frames (with K in ``k_range`` when given), and nothing given keeps them all.

    Args:
        backend: 'physical', 'cached', 'diffusion', a config dict ``dict(type='physical', ...)`` or a backend object
            (see :mod:`mmbokeh.generators`).
        k_values, k_range, num_k, random_k: see above.
        focus: focus choice of the ``physical`` backend (see :mod:`mmbokeh.generators.focus`): 'foreground'
            (official), 'median', a distance in metres, or ``dict(mode='random', range=(near, far))``.
        seed: None draws from numpy's global generator (seeded per worker by mmengine); an int makes every output
            a function of (seed, sample), whatever the order or process that handles the sample.
        fg_mask_key: results key of an optional foreground mask for ``focus='foreground'``.

    Adds ``bokeh_stack`` (S, H, W, 3), same dtype and channel order as ``img``; ``bokeh_k`` (S,) float32;
    ``bokeh_source`` (str); for backends that use a focus plane ``focus_dist`` (metres) and ``bokeh_focus`` (the
    focus mode).
    """

    def __init__(self,
                 backend: Union[str, dict, object] = 'physical',
                 k_values: Optional[Sequence[float]] = None,
                 k_range: Optional[Tuple[float, float]] = None,
                 num_k: Optional[int] = None,
                 random_k: bool = False,
                 focus: FocusSpec = 'foreground',
                 seed: Optional[int] = None,
                 fg_mask_key: str = 'fg_mask') -> None:
        self.backend = build_backend(backend)
        self.k_values = None if k_values is None else self._check_k(k_values, 'k_values')
        if k_values is not None and (k_range is not None or random_k):
            raise ValueError('BokehStackGenerator: give either k_values or k_range (+ num_k, random_k), not both')
        if k_range is not None:
            if len(k_range) != 2 or not 0 <= float(k_range[0]) <= float(k_range[1]):
                raise ValueError(f'BokehStackGenerator k_range must be (lo, hi) with 0 <= lo <= hi, got {k_range!r}')
            k_range = (float(k_range[0]), float(k_range[1]))
        if (k_range is not None or random_k) and (not isinstance(num_k, int) or num_k < 1):
            raise ValueError(f'BokehStackGenerator num_k must be a positive int with k_range / random_k, got {num_k!r}')
        if random_k and k_range is None and self.backend.needs_k:
            raise ValueError('BokehStackGenerator random_k needs k_range=(lo, hi) for this backend')
        if self.backend.needs_k and k_values is None and k_range is None:
            raise ValueError(f'BokehStackGenerator: the {type(self.backend).__name__} renders the K values it is '
                             'given; set k_values or k_range + num_k')
        self.k_range, self.num_k, self.random_k = k_range, num_k, bool(random_k)
        self.focus = parse_focus(focus)
        self.seed = seed
        self.fg_mask_key = fg_mask_key

    @staticmethod
    def _check_k(k: Sequence[float], name: str) -> np.ndarray:
        arr = np.asarray(k, dtype=np.float32).reshape(-1)
        if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f'BokehStackGenerator {name} must be a non-empty list of finite K >= 0, got {k!r}')
        return arr

    def _rng(self, results: Dict) -> np.random.Generator:
        """The generator of this sample: from (seed, sample_idx or img_path) when seeded, else from numpy's."""
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        if results.get('sample_idx') is not None:
            sample = int(results['sample_idx'])
        else:
            sample = zlib.crc32(str(results.get('img_path', '')).encode())
        return np.random.default_rng([int(self.seed), sample])

    def _requested_k(self, rng: np.random.Generator) -> Optional[np.ndarray]:
        if self.k_values is not None:
            return self.k_values
        if self.k_range is None:
            return None
        lo, hi = self.k_range
        if self.random_k:
            return np.sort(rng.uniform(lo, hi, size=self.num_k)).astype(np.float32)
        return np.linspace(lo, hi, self.num_k, dtype=np.float32)

    def transform(self, results: Dict) -> Dict:
        if 'img' not in results:
            raise KeyError(f'BokehStackGenerator needs results["img"]; got keys {sorted(results)}')
        img = results['img']
        if img.ndim != 3 or img.shape[-1] != 3:
            raise ValueError(f'BokehStackGenerator: img must be (H, W, 3), got {img.shape} ({results.get("img_path")})')
        rng = self._rng(results)
        subsample = self.random_k and not self.backend.needs_k
        k = None if subsample else self._requested_k(rng)
        focus = None
        if self.backend.needs_focus:
            depth = self.backend.depth_of(results) if hasattr(self.backend, 'depth_of') else None
            focus = select_focus(self.focus, depth, rng, results.get(self.fg_mask_key))
        stack, k_out, source = self.backend.render(results, k, focus, rng)
        if subsample:
            lo, hi = self.k_range if self.k_range is not None else (-np.inf, np.inf)
            eligible = np.flatnonzero((k_out >= lo) & (k_out <= hi))
            if self.num_k > len(eligible):
                raise ValueError(f'BokehStackGenerator num_k={self.num_k} but the stack of {results.get("img_path")} '
                                 f'has only {len(eligible)} frames with K in {self.k_range}')
            pick = np.sort(rng.choice(eligible, size=self.num_k, replace=False))
            stack, k_out = stack[pick], k_out[pick]
        results['bokeh_stack'] = stack
        results['bokeh_k'] = np.asarray(k_out, dtype=np.float32)
        results['bokeh_source'] = source
        if focus is not None:
            results['focus_dist'] = float(focus)
            results['bokeh_focus'] = focus_description(self.focus)
        return results

    def __repr__(self) -> str:
        k = (self.k_values.tolist() if self.k_values is not None else
             f'{"random " if self.random_k else ""}{self.num_k} in {self.k_range}' if self.num_k else 'stored')
        return (f'{self.__class__.__name__}(backend={type(self.backend).__name__}, k={k}, '
                f'focus={focus_description(self.focus)}, seed={self.seed})')
