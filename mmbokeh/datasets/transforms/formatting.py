"""PackDepthInputs: turn a results dict into ``dict(inputs=Tensor, data_samples=DepthDataSample)``."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from mmbokeh.registry import TRANSFORMS
from mmbokeh.structures import DepthDataSample
from .keys import CAMERA_KEYS, DEFAULT_META_KEYS


def _to_chw(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) or (H, W) array -> contiguous [C, H, W] tensor of the same dtype."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackDepthInputs(BaseTransform):
    """Pack the image, ground truth, bokeh stack and meta information for a depth model.

    Output ``inputs``: [3, H, W] tensor with the image's dtype (uint8 stays uint8, BGR as loaded). Output
    ``data_samples``: a :class:`DepthDataSample` with ``gt_depth`` (PixelData [1, H, W] float32 metres),
    ``bokeh_stack`` ([S, 3, H, W], the image's dtype) and ``bokeh_k`` ([S] float32) when present, and metainfo
    from ``meta_keys`` plus any camera keys present (absent keys are skipped).

    Args:
        meta_keys: results keys copied into the metainfo; None means ``DEFAULT_META_KEYS``.
    """

    def __init__(self, meta_keys: Optional[Sequence[str]] = None) -> None:
        self.meta_keys = tuple(DEFAULT_META_KEYS if meta_keys is None else meta_keys)

    def transform(self, results: Dict) -> Dict:
        if 'img' not in results:
            raise KeyError(f'PackDepthInputs needs results["img"]; got keys {sorted(results)}')
        packed = dict(inputs=_to_chw(results['img']))
        sample = DepthDataSample()
        if 'gt_depth' in results:
            depth = np.asarray(results['gt_depth'], dtype=np.float32)
            if depth.ndim != 2:
                raise ValueError(f'PackDepthInputs: gt_depth must be (H, W), got {depth.shape}')
            sample.gt_depth = PixelData(data=torch.from_numpy(np.ascontiguousarray(depth[None])))
        if 'bokeh_stack' in results:
            stack = np.asarray(results['bokeh_stack'])
            if stack.ndim != 4 or stack.shape[-1] != 3:
                raise ValueError(f'PackDepthInputs: bokeh_stack must be (S, H, W, 3), got {stack.shape}')
            sample.bokeh_stack = torch.from_numpy(np.ascontiguousarray(stack.transpose(0, 3, 1, 2)))
        if 'bokeh_k' in results:
            k = np.asarray(results['bokeh_k'], dtype=np.float32).reshape(-1)
            if 'bokeh_stack' in results and len(k) != len(results['bokeh_stack']):
                raise ValueError(f'PackDepthInputs: bokeh_k has {len(k)} values for '
                                 f'{len(results["bokeh_stack"])} bokeh_stack frames')
            sample.bokeh_k = torch.from_numpy(k)
        keys = self.meta_keys + tuple(k for k in CAMERA_KEYS if k not in self.meta_keys)
        sample.set_metainfo({k: results[k] for k in keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
