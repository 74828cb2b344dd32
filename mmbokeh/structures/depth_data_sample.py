"""DepthDataSample: the per-image record that flows between dataset, model and metric."""
from typing import Optional

import torch
from mmengine.structures import BaseDataElement, PixelData


class DepthDataSample(BaseDataElement):
    """Data sample for (defocus-aided) depth estimation.

    Fields:
        gt_depth (PixelData): ``data`` [1, H, W] float32, metres; 0 marks invalid pixels.
        pred_depth (PixelData): ``data`` [1, H, W] float32, metres.

    Stacks (bokeh or focal) are model inputs, not data-sample fields: see :mod:`mmbokeh.structures.depth_inputs`.

    Meta keys used across mmbokeh: ``img_path``, ``depth_path``, ``ori_shape`` (H, W of the ground truth),
    ``img_shape`` (H, W after resizing), ``pad_shape``, ``focus_dist`` (metres), ``flip``.
    """

    def _tensor_field(self, name: str, value, kind):
        if not isinstance(value, kind):
            raise TypeError(f'DepthDataSample.{name} expects {kind.__name__}, got {type(value).__name__}')
        self.set_field(value, name, dtype=kind)

    @property
    def gt_depth(self) -> PixelData:
        return self._gt_depth

    @gt_depth.setter
    def gt_depth(self, value: PixelData) -> None:
        self._tensor_field('_gt_depth', value, PixelData)

    @gt_depth.deleter
    def gt_depth(self) -> None:
        del self._gt_depth

    @property
    def pred_depth(self) -> PixelData:
        return self._pred_depth

    @pred_depth.setter
    def pred_depth(self, value: PixelData) -> None:
        self._tensor_field('_pred_depth', value, PixelData)

    @pred_depth.deleter
    def pred_depth(self) -> None:
        del self._pred_depth


def stack_gt_depth(data_samples: list, pad_shape: Optional[tuple] = None) -> torch.Tensor:
    """Stack the ground-truth depths of a batch into [B, 1, H, W], zero-padding (invalid) to ``pad_shape``."""
    depths = [s.gt_depth.data for s in data_samples]
    h = max(d.shape[-2] for d in depths) if pad_shape is None else pad_shape[0]
    w = max(d.shape[-1] for d in depths) if pad_shape is None else pad_shape[1]
    out = depths[0].new_zeros((len(depths), 1, h, w))
    for i, d in enumerate(depths):
        out[i, :, :d.shape[-2], :d.shape[-1]] = d
    return out
