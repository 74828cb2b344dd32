"""PackDepthInputs: turn a results dict into ``dict(inputs=dict(img=..., stack=...), data_samples=...)``."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from mmbokeh.registry import TRANSFORMS
from mmbokeh.structures import CAMERA_FIELDS, DepthDataSample

from .keys import CAMERA_KEYS, DEFAULT_META_KEYS, STACK_RESULT_KEYS, STACK_VALUE_INPUTS


def _to_chw(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) or (H, W) array -> contiguous [C, H, W] tensor of the same dtype."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def _frame_values(results: Dict, key: str, frames: int) -> torch.Tensor:
    """(S,) float32 tensor of ``results[key]``, checked against the number of stack frames."""
    values = np.asarray(results[key], dtype=np.float32).reshape(-1)
    if len(values) != frames:
        raise ValueError(f'PackDepthInputs: {key} has {len(values)} values for {frames} stack frames '
                         f'({results.get("img_path")})')
    return torch.from_numpy(values)


@TRANSFORMS.register_module()
class PackDepthInputs(BaseTransform):
    """Pack the image, its stack, ground truth and meta information for a depth model.

    Output ``inputs``: a dict (see :mod:`mmbokeh.structures.depth_inputs`) with ``img`` [3, H, W] in the image's
    dtype (uint8 stays uint8, BGR as loaded) and, when present, ``stack`` [S, 3, H, W] (same dtype and encoding)
    with ``stack_k`` [S] (from ``bokeh_stack`` / ``bokeh_k``) or ``stack_focus`` [S] metres (from ``focal_stack``
    / ``focus_dists``), and ``camera`` [3] (from a ``camera`` dict with ``focal_length``, ``f_number``,
    ``pixel_size``, metres). Output ``data_samples``: a :class:`DepthDataSample` with ``gt_depth`` (PixelData
    [1, H, W] float32 metres) and metainfo from ``meta_keys`` plus any camera keys present (absent keys skipped).

    Args:
        meta_keys: results keys copied into the metainfo; None means ``DEFAULT_META_KEYS``.
    """

    def __init__(self, meta_keys: Optional[Sequence[str]] = None) -> None:
        self.meta_keys = tuple(DEFAULT_META_KEYS if meta_keys is None else meta_keys)

    def transform(self, results: Dict) -> Dict:
        if 'img' not in results:
            raise KeyError(f'PackDepthInputs needs results["img"]; got keys {sorted(results)}')
        img = np.asarray(results['img'])
        if img.ndim not in (2, 3):
            raise ValueError(f'PackDepthInputs: img must be (H, W, C) or (H, W), got {img.shape} '
                             f'({results.get("img_path")})')
        inputs = dict(img=_to_chw(img))
        inputs.update(self._stack(results))
        if 'camera' in results:
            camera = results['camera']
            missing = [f for f in CAMERA_FIELDS if f not in camera]
            if missing:
                raise KeyError(f'PackDepthInputs: results["camera"] needs {list(CAMERA_FIELDS)}, missing {missing}')
            inputs['camera'] = torch.tensor([float(camera[f]) for f in CAMERA_FIELDS], dtype=torch.float32)
        sample = DepthDataSample()
        if 'gt_depth' in results:
            depth = np.asarray(results['gt_depth'], dtype=np.float32)
            if depth.ndim != 2:
                raise ValueError(f'PackDepthInputs: gt_depth must be (H, W), got {depth.shape}')
            sample.gt_depth = PixelData(data=torch.from_numpy(np.ascontiguousarray(depth[None])))
        keys = self.meta_keys + tuple(k for k in CAMERA_KEYS if k not in self.meta_keys)
        sample.set_metainfo({k: results[k] for k in keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    @staticmethod
    def _stack(results: Dict) -> Dict[str, torch.Tensor]:
        """``stack`` and its per-frame values from a bokeh stack or a focal stack (not both)."""
        kinds = [(frames, values) for frames, values in STACK_RESULT_KEYS if frames in results]
        if len(kinds) > 1:
            raise ValueError(f'PackDepthInputs: results hold both {kinds[0][0]} and {kinds[1][0]}; a sample has '
                             'one stack')
        if not kinds:
            return {}
        frames_key, values_key = kinds[0]
        stack = np.asarray(results[frames_key])
        if stack.ndim != 4 or stack.shape[-1] != 3:
            raise ValueError(f'PackDepthInputs: {frames_key} must be (S, H, W, 3), got {stack.shape}')
        if values_key not in results:
            raise KeyError(f'PackDepthInputs: {frames_key} needs {values_key} (one value per frame)')
        packed = dict(stack=torch.from_numpy(np.ascontiguousarray(stack.transpose(0, 3, 1, 2))))
        packed[STACK_VALUE_INPUTS[values_key]] = _frame_values(results, values_key, len(stack))
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
