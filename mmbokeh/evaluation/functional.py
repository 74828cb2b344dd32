"""Per-image depth metrics (BTS / ZoeDepth conventions) and evaluation masks, in float64 NumPy."""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

DEPTH_METRIC_KEYS = ('d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'silog')

# Eigen et al.'s crop of NYUv2 test images (480 x 640): rows 45:471, cols 41:601.
NYU_EIGEN_CROP = (45, 471, 41, 601)
NYU_EIGEN_SHAPE = (480, 640)

CropType = Union[None, str, Sequence[int]]


def check_crop(crop: CropType) -> None:
    """Raise ValueError unless ``crop`` is None, 'nyu_eigen' or a (tuple or list) of four ints
    (top, bottom, left, right) with ``0 <= top < bottom`` and ``0 <= left < right`` (whether it fits the ground
    truth is checked per image by :func:`crop_box`)."""
    ok = crop is None or (isinstance(crop, str) and crop == 'nyu_eigen') or (
        isinstance(crop, (tuple, list)) and len(crop) == 4 and all(isinstance(v, (int, np.integer)) for v in crop)
        and 0 <= crop[0] < crop[1] and 0 <= crop[2] < crop[3])
    if not ok:
        raise ValueError("crop must be None, 'nyu_eigen' or (top, bottom, left, right) ints with 0 <= top < bottom "
                         f'and 0 <= left < right (Python slice bounds), got {crop!r}')


def crop_box(crop: CropType, shape: Tuple[int, int], where: str = '') -> Optional[Tuple[int, int, int, int]]:
    """Resolve ``crop`` (None, 'nyu_eigen' or (top, bottom, left, right), Python slice bounds) for an [H, W] map.

    Raises ValueError when 'nyu_eigen' meets a map that is not 480 x 640, or a box falls outside the map.
    ``where`` names the image in error messages.
    """
    check_crop(crop)
    if crop is None:
        return None
    if isinstance(crop, str):
        if tuple(shape) != NYU_EIGEN_SHAPE:
            raise ValueError(f"crop='nyu_eigen' needs a 480x640 ground truth (evaluate at the original NYUv2 "
                             f"resolution), got {shape[0]}x{shape[1]}{where}")
        return NYU_EIGEN_CROP
    top, bottom, left, right = (int(v) for v in crop)  # type: ignore[union-attr]
    if not (0 <= top < bottom <= shape[0] and 0 <= left < right <= shape[1]):
        raise ValueError(f'crop (top, bottom, left, right)={tuple(crop)} does not fit a {shape[0]}x{shape[1]} '
                         f'ground truth{where}: it needs 0 <= top < bottom <= {shape[0]} and '
                         f'0 <= left < right <= {shape[1]}')
    return top, bottom, left, right


def depth_eval_mask(gt: np.ndarray, min_depth: float, max_depth: float,
                    box: Optional[Tuple[int, int, int, int]] = None) -> np.ndarray:
    """Boolean [H, W] mask of pixels with ``min_depth < gt < max_depth`` (open interval), inside ``box`` if given.

    The bounds are cast to ``gt``'s float dtype first, so a float32 map holding exactly ``float32(min_depth)`` is
    excluded as written (in float64 it would be slightly above the bound). NaN is never valid.
    """
    lo, hi = np.asarray(min_depth, dtype=gt.dtype), np.asarray(max_depth, dtype=gt.dtype)
    with np.errstate(invalid='ignore'):
        mask = (gt > lo) & (gt < hi)
    if box is not None:
        top, bottom, left, right = box
        inside = np.zeros_like(mask)
        inside[top:bottom, left:right] = True
        mask &= inside
    return mask


def depth_metrics(pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
    """The nine standard metrics of one image from its valid pixels (1-D arrays, metres, all > 0).

    d1..d3: fraction with max(gt/pred, pred/gt) < 1.25 ** n; abs_rel: mean |gt - pred| / gt; sq_rel:
    mean (gt - pred)^2 / gt; rmse: metres; rmse_log: RMSE of natural-log depth; log10: mean |log10 gt - log10 pred|;
    silog: ``sqrt(mean(e^2) - mean(e)^2) * 100`` with ``e = log(pred) - log(gt)`` (BTS; mmsegmentation instead uses
    ``sqrt(mean(e^2) - 0.5 * mean(e)^2)`` without the factor 100).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    ratio = np.maximum(gt / pred, pred / gt)
    diff = gt - pred
    err_log = np.log(pred) - np.log(gt)
    return {
        'd1': float(np.mean(ratio < 1.25)),
        'd2': float(np.mean(ratio < 1.25 ** 2)),
        'd3': float(np.mean(ratio < 1.25 ** 3)),
        'abs_rel': float(np.mean(np.abs(diff) / gt)),
        'sq_rel': float(np.mean(diff ** 2 / gt)),
        'rmse': float(np.sqrt(np.mean(diff ** 2))),
        'rmse_log': float(np.sqrt(np.mean(err_log ** 2))),
        'log10': float(np.mean(np.abs(np.log10(gt) - np.log10(pred)))),
        'silog': float(np.sqrt(max(np.mean(err_log ** 2) - np.mean(err_log) ** 2, 0.0)) * 100),
    }
