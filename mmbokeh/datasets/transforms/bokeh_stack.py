"""BokehStackGenerator: Stage 1 of BokehDepth as a data transform (one sharp image -> a stack at several K)."""
import warnings
import zlib
from types import MappingProxyType
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmbokeh.generators import BokehBackend, KSelection, StackRequest, build_backend
from mmbokeh.generators.focus import FocusSpec, focus_description, parse_focus, select_focus
from mmbokeh.registry import TRANSFORMS

#: Official BokehDepth values: Stage-1 K range, inference default, offline-tool sequence.
OFFICIAL_K_RANGE = (1.0, 30.0)
OFFICIAL_INFERENCE_K = (10.0, 20.0, 30.0)
OFFICIAL_STACK_TOOL_K = (1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0)
DEFAULT_DEPTH_KEY = 'gt_depth'


def _migrate_depth_key(backend: Union[str, dict, BokehBackend], depth_key: str) -> Tuple[object, str]:
    """Accept the former ``backend=dict(type='physical', depth_key=...)``: the key moves to the transform."""
    if not isinstance(backend, dict) or 'depth_key' not in backend:
        return backend, depth_key
    backend = dict(backend)
    legacy = backend.pop('depth_key')
    if depth_key not in (DEFAULT_DEPTH_KEY, legacy):
        raise ValueError(f'BokehStackGenerator got depth_key={depth_key!r} and backend depth_key={legacy!r}: '
                         'give the depth key once, as BokehStackGenerator(depth_key=...)')
    warnings.warn(f"BokehStackGenerator: backend=dict(type={backend.get('type')!r}, depth_key={legacy!r}) is "
                  f"deprecated; write BokehStackGenerator(depth_key={legacy!r}, backend=...)", FutureWarning,
                  stacklevel=3)
    return backend, legacy


@TRANSFORMS.register_module()
class BokehStackGenerator(BaseTransform):
    """Add a bokeh stack of ``img``: the same image at S calibrated bokeh strengths K (pixels x metres).

    Put it after loading and before the geometric transforms (RandomCrop, RandomFlip, ResizeToMultiple keep the
    stack aligned with the image). The reference frame (K = 0) is ``img`` itself and is not part of the stack unless
    0 is asked for.

    Honesty rule (``docs/design.md``, "Honesty rule"): which stacks are legitimate depends on the task. A physical
    stack from the ground-truth depth leaks the answer and is valid only for depth from defocus and Stage-1 training
    pairs; a monocular-depth benchmark must use the ``diffusion`` or ``cached`` backends or a depth model's own
    prediction (``depth_key='pred_depth'``). ``results['bokeh_source']`` always says what made the stack
    (``'physical:gt_depth'``, ``'physical:pred_depth'``, ``'diffusion:<model>'``, ``'cached:<how it was made>'``).

    K values (see :class:`mmbokeh.generators.KSelection`), one of:
        - ``k_values=[10, 20, 30]``: these values (official inference default; ``OFFICIAL_STACK_TOOL_K`` is the
          offline tool's sequence);
        - ``k_range=(lo, hi), num_k=n``: ``n`` values evenly spaced from lo to hi;
        - ``k_range=(lo, hi), num_k=n, random_k=True``: ``n`` values drawn uniformly in [lo, hi], sorted (training;
          the official Stage-1 range is ``OFFICIAL_K_RANGE``).
        A ``cached`` backend stores its own K: fixed K then select stored frames (within ``k_atol``), ``random_k``
        draws ``num_k`` stored frames (with K in ``k_range`` when given), and nothing given keeps them all.

    Args:
        backend: 'physical', 'cached', 'diffusion', a config dict ``dict(type='physical', ...)`` or a
            :class:`~mmbokeh.generators.BokehBackend` (see :mod:`mmbokeh.generators`).
        k_values, k_range, num_k, random_k, k_atol: see above.
        focus: focus choice of the ``physical`` backend (see :mod:`mmbokeh.generators.focus`): 'foreground'
            (official), 'median', a distance in metres, or ``dict(mode='random', range=(near, far))``.
        seed: None draws from numpy's global generator (seeded per worker by mmengine); an int makes every output
            a function of (seed, sample), whatever the order or process that handles the sample.
        depth_key: results key of the (H, W) depth map in metres, for backends that need depth (``physical``);
            recorded in the source (``'physical:<depth_key>'``).
        fg_mask_key: results key of an optional foreground mask for ``focus='foreground'``.

    Adds ``bokeh_stack`` (S, H, W, 3), same dtype and channel order as ``img``; ``bokeh_k`` (S,) float32;
    ``bokeh_source`` (str); for backends that use a focus plane ``focus_dist`` (metres) and ``bokeh_focus`` (the
    focus mode).
    """

    def __init__(self,
                 backend: Union[str, dict, BokehBackend] = 'physical',
                 k_values: Optional[Sequence[float]] = None,
                 k_range: Optional[Tuple[float, float]] = None,
                 num_k: Optional[int] = None,
                 random_k: bool = False,
                 k_atol: float = 1e-3,
                 focus: FocusSpec = 'foreground',
                 seed: Optional[int] = None,
                 depth_key: str = DEFAULT_DEPTH_KEY,
                 fg_mask_key: str = 'fg_mask') -> None:
        backend, self.depth_key = _migrate_depth_key(backend, depth_key)
        self.backend = build_backend(backend)
        try:
            self.k_selection = KSelection(k_values=k_values, k_range=k_range, num_k=num_k, random_k=random_k,
                                          k_atol=k_atol)
        except ValueError as err:
            raise ValueError(f'BokehStackGenerator {err}') from None
        name = type(self.backend).__name__
        if self.backend.needs_k and random_k and k_range is None:
            raise ValueError(f'BokehStackGenerator random_k needs k_range=(lo, hi) for the {name}, which renders the '
                             'K it is given')
        if self.backend.needs_k and not self.k_selection.renders:
            raise ValueError(f'BokehStackGenerator: the {name} renders the K values it is given; set k_values or '
                             'k_range + num_k')
        try:
            self.focus = parse_focus(focus)
        except ValueError as err:
            raise ValueError(f'BokehStackGenerator {err}') from None
        self.seed = seed
        self.fg_mask_key = fg_mask_key

    def _rng(self, results: Dict) -> np.random.Generator:
        """The generator of this sample: from (seed, sample_idx or img_path) when seeded, else from numpy's."""
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        if results.get('sample_idx') is not None:
            sample = int(results['sample_idx'])
        else:
            sample = zlib.crc32(str(results.get('img_path', '')).encode())
        return np.random.default_rng([int(self.seed), sample])

    def _depth(self, results: Dict, required: bool) -> Optional[np.ndarray]:
        """``results[depth_key]`` as (H, W) float32 checked against ``img``; None when absent and not required."""
        if self.depth_key not in results:
            if not required:
                return None
            raise KeyError(f'BokehStackGenerator with the {type(self.backend).__name__} needs '
                           f'results[{self.depth_key!r}] (an (H, W) depth map in metres, see depth_key); got keys '
                           f'{sorted(results)}')
        depth = np.asarray(results[self.depth_key], dtype=np.float32)
        if depth.ndim == 3 and depth.shape[-1] == 1:
            depth = depth[..., 0]
        if depth.shape != results['img'].shape[:2]:
            raise ValueError(f'BokehStackGenerator: {self.depth_key} {depth.shape} is not aligned with img '
                             f'{results["img"].shape[:2]} ({results.get("img_path")})')
        return depth

    def _request(self, results: Dict, rng: np.random.Generator) -> StackRequest:
        """What the backend declares it needs, read from ``results`` (K drawn before the focus)."""
        backend = self.backend
        k_values = self.k_selection.request(rng) if backend.needs_k else None
        depth = None
        if backend.needs_depth or backend.needs_focus:  # focus modes other than 'fixed' read the depth too
            depth = self._depth(results, required=backend.needs_depth)
        focus = select_focus(self.focus, depth, rng, results.get(self.fg_mask_key)) if backend.needs_focus else None
        meta = {k: v for k, v in results.items() if not isinstance(v, np.ndarray)} if backend.needs_meta else {}
        return StackRequest(img=results['img'], rng=rng, k_values=k_values,
                            selection=None if backend.needs_k else self.k_selection,
                            depth=depth, depth_key=self.depth_key if depth is not None else None, focus_dist=focus,
                            meta=MappingProxyType(meta))

    def transform(self, results: Dict) -> Dict:
        if 'img' not in results:
            raise KeyError(f'BokehStackGenerator needs results["img"]; got keys {sorted(results)}')
        img = results['img']
        if img.ndim != 3 or img.shape[-1] != 3:
            raise ValueError(f'BokehStackGenerator: img must be (H, W, 3), got {img.shape} ({results.get("img_path")})')
        request = self._request(results, self._rng(results))
        stack = self.backend.render(request)
        results['bokeh_stack'] = stack.frames
        results['bokeh_k'] = np.asarray(stack.k, dtype=np.float32)
        results['bokeh_source'] = stack.source
        if request.focus_dist is not None:
            results['focus_dist'] = float(request.focus_dist)
            results['bokeh_focus'] = focus_description(self.focus)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(backend={type(self.backend).__name__}, k={self.k_selection!r}, '
                f'focus={focus_description(self.focus)}, depth_key={self.depth_key}, seed={self.seed})')
