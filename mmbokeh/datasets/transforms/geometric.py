"""Geometric transforms that keep ``img``, ``gt_depth`` and every stack aligned (and the camera keys right).

Array layouts: ``img`` (H, W, 3), ``gt_depth`` (H, W) metres, stacks (S, H, W, 3): each frames key of
``keys.STACK_RESULT_KEYS`` (``bokeh_stack``, ``focal_stack``). Camera keys (see ``keys.CAMERA_KEYS``) follow ``img``:
intrinsics use pixel centres at integer coordinates.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmbokeh.registry import TRANSFORMS

from .keys import STACK_RESULT_KEYS

IntOrPair = Union[int, Sequence[int]]
RESIZE_METHODS = ('lower_bound', 'upper_bound', 'minimal')


def _pair(value: IntOrPair, name: str) -> Tuple[int, int]:
    """An int or a 2-sequence of positive ints as a tuple."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f'{name} must be a positive int or a pair of positive ints, got {value!r}')
    return int(pair[0]), int(pair[1])


#: What OpenCV resizes (mmcv.imresize): the interpolation names and the image dtypes.
RESIZE_INTERPOLATIONS = frozenset(mmcv.image.geometric.cv2_interp_codes)
RESIZABLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))


def _image_hw(results: Dict, who: str) -> Tuple[int, int]:
    if 'img' not in results:
        raise KeyError(f'{who} needs results["img"]; got keys {sorted(results)}')
    return tuple(results['img'].shape[:2])


def _stack_keys(results: Dict) -> Tuple[str, ...]:
    """The frames keys of ``STACK_RESULT_KEYS`` present in ``results`` (each an (S, H, W, 3) stack)."""
    return tuple(frames for frames, _ in STACK_RESULT_KEYS if frames in results)


def _check_aligned(results: Dict, who: str) -> None:
    """Raise if ``gt_depth`` or a stack does not share the image's (H, W)."""
    hw = _image_hw(results, who)
    if 'gt_depth' in results and tuple(results['gt_depth'].shape[:2]) != hw:
        raise ValueError(f'{who}: gt_depth {tuple(results["gt_depth"].shape)} is not aligned with img {hw} '
                         '(was the depth left at its original size by ResizeToMultiple(resize_depth=False)?)')
    for key in _stack_keys(results):
        if tuple(results[key].shape[1:3]) != hw:
            raise ValueError(f'{who}: {key} {tuple(results[key].shape)} is not aligned with img {hw}')


def _update_intrinsics(results: Dict, matrix: np.ndarray, mirror: bool = False) -> None:
    """Compose a 3x3 pixel-coordinate map (new = matrix @ old) into the camera keys, when present.

    ``mirror``: the map is a horizontal flip; the result then describes the mirrored scene with a normal camera
    (K' = matrix @ K @ diag(-1, 1, 1): fx stays positive, cx' = W - 1 - cx).
    """
    if 'cam_intrinsics' in results:
        k = matrix @ np.asarray(results['cam_intrinsics'], np.float64)
        results['cam_intrinsics'] = (k @ np.diag([-1.0, 1.0, 1.0]) if mirror else k).astype(np.float32)
    if 'focal_length_px' in results:
        results['focal_length_px'] = float(results['focal_length_px']) * abs(float(matrix[0, 0]))


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop a random ``crop_size`` = (h, w) window (no padding: it must fit in the image).

    Crops ``img``, ``gt_depth`` and every stack (``bokeh_stack``, ``focal_stack``) at the same offset; updates
    ``img_shape`` and shifts the principal point.
    """

    def __init__(self, crop_size: IntOrPair) -> None:
        self.crop_size = _pair(crop_size, 'RandomCrop crop_size')

    def transform(self, results: Dict) -> Dict:
        _check_aligned(results, 'RandomCrop')
        h, w = _image_hw(results, 'RandomCrop')
        ch, cw = self.crop_size
        if ch > h or cw > w:
            raise ValueError(f'RandomCrop crop_size (h, w) = {self.crop_size} is larger than the image ({h}, {w}) '
                             f'of {results.get("img_path")}; resize first or choose a smaller crop')
        y0 = np.random.randint(0, h - ch + 1)
        x0 = np.random.randint(0, w - cw + 1)
        window = (slice(y0, y0 + ch), slice(x0, x0 + cw))
        results['img'] = results['img'][window]
        if 'gt_depth' in results:
            results['gt_depth'] = results['gt_depth'][window]
        for key in _stack_keys(results):
            results[key] = results[key][(slice(None),) + window]
        results['img_shape'] = (ch, cw)
        _update_intrinsics(results, np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip ``img``, ``gt_depth`` and every stack (``bokeh_stack``, ``focal_stack``) horizontally with probability
    ``prob``.

    ``flip`` records whether the sample ends up mirrored (a second flip toggles it back). Works on a depth kept at
    a different resolution from the image, since a mirror needs no alignment.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomFlip prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: Dict) -> Dict:
        do_flip = bool(np.random.rand() < self.prob)
        if do_flip:
            w = _image_hw(results, 'RandomFlip')[1]
            results['img'] = mmcv.imflip(results['img'], direction='horizontal')
            if 'gt_depth' in results:
                results['gt_depth'] = np.ascontiguousarray(results['gt_depth'][:, ::-1])
            for key in _stack_keys(results):
                results[key] = np.ascontiguousarray(results[key][:, :, ::-1])
            _update_intrinsics(results, np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]], np.float64), mirror=True)
        results['flip'] = bool(results.get('flip', False)) != do_flip
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


def snap_to_multiple(x: float, divisor: int, min_val: int = 0, max_val: Optional[int] = None) -> int:
    """Depth Anything V2's ``constrain_to_multiple_of``: nearest multiple of ``divisor`` (numpy rounding, ties
    to even), stepped down (floor) if above ``max_val``, then up (ceil) if below ``min_val``."""
    y = int(np.round(x / divisor)) * divisor
    if max_val is not None and y > max_val:
        y = int(np.floor(x / divisor)) * divisor
    if y < min_val:
        y = int(np.ceil(x / divisor)) * divisor
    return y


def dav2_output_size(height: int, width: int, target: Tuple[int, int], keep_ratio: bool = True,
                     resize_method: str = 'lower_bound', size_divisor: int = 14) -> Tuple[int, int]:
    """Output (h, w) of Depth Anything V2's ``Resize`` for an (height, width) input and ``target`` = (h, w).

    ``lower_bound``: both sides >= target; ``upper_bound``: both sides <= target; ``minimal``: no bound. With
    ``keep_ratio`` one scale serves both sides (the larger for lower_bound, the smaller for upper_bound, the one
    closer to 1 for minimal); each side is then snapped to a multiple of ``size_divisor`` (see
    :func:`snap_to_multiple`).
    """
    if resize_method not in RESIZE_METHODS:
        raise ValueError(f'resize_method must be one of {RESIZE_METHODS}, got {resize_method!r}')
    th, tw = target
    scale_h, scale_w = th / height, tw / width
    if keep_ratio:
        if resize_method == 'lower_bound':
            scale_h = scale_w = max(scale_h, scale_w)
        elif resize_method == 'upper_bound':
            scale_h = scale_w = min(scale_h, scale_w)
        else:
            scale_h = scale_w = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h
    if resize_method == 'lower_bound':
        bound_h, bound_w = dict(min_val=th), dict(min_val=tw)
    elif resize_method == 'upper_bound':
        bound_h, bound_w = dict(max_val=th), dict(max_val=tw)
    else:
        bound_h, bound_w = dict(), dict()
    return (snap_to_multiple(scale_h * height, size_divisor, **bound_h),
            snap_to_multiple(scale_w * width, size_divisor, **bound_w))


def resize_depth_map(depth: np.ndarray, size: Tuple[int, int], exact: bool = True) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) depth map to ``size`` = (w, h), never mixing depths.

    ``exact=True`` picks the source pixel whose centre is nearest (``cv2.INTER_NEAREST_EXACT``), the same
    geometry as bicubic image resizing; ``exact=False`` is ``cv2.INTER_NEAREST`` (what DAv2 uses), which shifts by up
    to half a source pixel towards the top-left.
    """
    if not exact:
        return mmcv.imresize(depth, size, interpolation='nearest')
    return cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST_EXACT)  # mmcv has no code for it


@TRANSFORMS.register_module()
class ResizeToMultiple(BaseTransform):
    """Depth Anything V2's resize: scale to ``scale`` and snap both sides to multiples of ``size_divisor``.

    ``img`` and each frame of every stack (``bokeh_stack``, ``focal_stack``) are resized with ``interpolation``
    (bicubic), ``gt_depth`` with nearest neighbour. With ``resize_depth=False`` (validation/test) the ground truth
    keeps its original resolution, so ``ori_shape`` still describes it while ``img_shape`` follows the image. Sets
    ``scale_factor`` = (w_scale, h_scale) and rescales the camera keys; a focal stack's ``camera['pixel_size']``
    (metres) is divided by sqrt(w_scale * h_scale), so the CoC of any depth stays right in pixels.

    Args:
        scale: target side (int) or (width, height) as in mmcv's ``Resize``; 518 for DAv2.
        keep_ratio: one scale for both sides.
        resize_method: 'lower_bound' (sides >= target), 'upper_bound' (sides <= target) or 'minimal'.
        size_divisor: each output side is a multiple of this (14 = ViT patch).
        resize_depth: resize ``gt_depth`` too (training) or keep it as loaded (evaluation).
        interpolation: mmcv interpolation for ``img`` and the stacks.
        exact_nearest: resize the depth with centre-aligned nearest neighbour (see :func:`resize_depth_map`);
            False reproduces DAv2's ``cv2.INTER_NEAREST`` bit for bit.
        rescale_bokeh_k: multiply ``bokeh_k`` (pixels x metres) by the geometric mean of the two scales, keeping it
            physical at the new resolution. Off by default: official BokehDepth feeds K unchanged after resizing.
    """

    def __init__(self, scale: IntOrPair = 518, keep_ratio: bool = True, resize_method: str = 'lower_bound',
                 size_divisor: int = 14, resize_depth: bool = True, interpolation: str = 'bicubic',
                 exact_nearest: bool = True, rescale_bokeh_k: bool = False) -> None:
        width, height = _pair(scale, 'ResizeToMultiple scale')
        self.target = (height, width)
        self.keep_ratio = keep_ratio
        if resize_method not in RESIZE_METHODS:
            raise ValueError(f'ResizeToMultiple resize_method must be one of {RESIZE_METHODS}, got {resize_method!r}')
        self.resize_method = resize_method
        if not (isinstance(size_divisor, int) and size_divisor > 0):
            raise ValueError(f'ResizeToMultiple size_divisor must be a positive int, got {size_divisor!r}')
        self.size_divisor = size_divisor
        self.resize_depth = resize_depth
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise ValueError(f'ResizeToMultiple interpolation must be one of {sorted(RESIZE_INTERPOLATIONS)}, '
                             f'got {interpolation!r}')
        self.interpolation = interpolation
        self.exact_nearest = exact_nearest
        self.rescale_bokeh_k = rescale_bokeh_k

    def transform(self, results: Dict) -> Dict:
        h, w = _image_hw(results, 'ResizeToMultiple')
        img = results['img']
        if img.dtype not in RESIZABLE_DTYPES or h == 0 or w == 0:
            raise ValueError(f'ResizeToMultiple: img must be a non-empty image of dtype uint8, uint16, float32 or '
                             f'float64, got {img.shape} {img.dtype} ({results.get("img_path")})')
        new_h, new_w = dav2_output_size(h, w, self.target, self.keep_ratio, self.resize_method, self.size_divisor)
        if new_h < 1 or new_w < 1:
            raise ValueError(f'ResizeToMultiple: scale={self.target[::-1]} with size_divisor={self.size_divisor} and '
                             f'resize_method={self.resize_method!r} resizes the {h}x{w} img to {new_h}x{new_w}; use a '
                             f'scale of at least size_divisor or another resize_method ({results.get("img_path")})')
        size = (new_w, new_h)
        results['img'] = mmcv.imresize(results['img'], size, interpolation=self.interpolation)
        for key in _stack_keys(results):
            stack = results[key]
            if stack.dtype not in RESIZABLE_DTYPES or stack.ndim != 4:
                raise ValueError(f'ResizeToMultiple: {key} must be an (S, H, W, C) stack of dtype uint8, uint16, '
                                 f'float32 or float64, got {stack.shape} {stack.dtype} ({results.get("img_path")})')
            results[key] = np.stack(
                [mmcv.imresize(frame, size, interpolation=self.interpolation) for frame in stack]
            ) if len(stack) else np.zeros((0, new_h, new_w) + stack.shape[3:], stack.dtype)
        if self.resize_depth and 'gt_depth' in results:
            results['gt_depth'] = resize_depth_map(results['gt_depth'], size, self.exact_nearest)
        sx, sy = new_w / w, new_h / h
        if self.rescale_bokeh_k and 'bokeh_k' in results:
            results['bokeh_k'] = (np.asarray(results['bokeh_k'], np.float32) * np.sqrt(sx * sy)).astype(np.float32)
        if isinstance(results.get('camera'), dict) and 'pixel_size' in results['camera']:
            camera = dict(results['camera'])  # never edit a dict shared with the dataset's items
            camera['pixel_size'] = float(camera['pixel_size']) / float(np.sqrt(sx * sy))
            results['camera'] = camera
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (sx, sy)
        # pixel centres map as u' + 0.5 = (u + 0.5) * sx
        _update_intrinsics(results, np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]]))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.target[::-1]}, keep_ratio={self.keep_ratio}, '
                f'resize_method={self.resize_method!r}, size_divisor={self.size_divisor}, '
                f'resize_depth={self.resize_depth}, interpolation={self.interpolation!r}, '
                f'exact_nearest={self.exact_nearest}, rescale_bokeh_k={self.rescale_bokeh_k})')
