"""Batching for depth estimation: normalise, pad to the patch multiple, carry depth and bokeh stacks along."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData

from mmbokeh.registry import MODELS


@MODELS.register_module()
class DepthDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ImgDataPreprocessor plus depth-specific handling.

    - images: BGR -> RGB, ``(x - mean) / std`` (ImageNet, 0-255 scale), zero-padded bottom/right to a multiple of
      ``pad_size_divisor`` (14 for DINOv2): [B, 3, H, W];
    - ``bokeh_stack`` of each sample ([S, 3, H, W], same encoding as the image) gets the same normalisation and padding;
    - ground-truth depth is padded with 0 when training (0 is never valid depth, so padding never counts);
    - ``pad_shape`` and ``batch_input_shape`` are written to each sample's metainfo.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 pad_size_divisor: int = 14,
                 pad_value: float = 0,
                 bgr_to_rgb: bool = True,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         bgr_to_rgb=bgr_to_rgb, non_blocking=non_blocking)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[..., 3, H, W] in the dataset's encoding (uint8 BGR by default) -> normalised float RGB."""
        if self._channel_conversion:
            x = x.flip(-3)
        return (x.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        inputs, samples = data['inputs'], data['data_samples']
        if samples is None:
            return data
        h, w = inputs.shape[-2:]
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=(h, w),
                                     pad_shape=(h, w)))
            if 'bokeh_stack' in sample:
                stack = self.normalize(sample.bokeh_stack.to(inputs.device))
                sample.bokeh_stack = F.pad(stack, (0, w - stack.shape[-1], 0, h - stack.shape[-2]),
                                           value=self.pad_value)
            if training and 'gt_depth' in sample:
                gt = sample.gt_depth.data
                if gt.shape[-2] > h or gt.shape[-1] > w:
                    raise ValueError(f'gt_depth {tuple(gt.shape)} larger than the padded image {(h, w)} '
                                     f"for {sample.metainfo.get('img_path')}")
                sample.gt_depth = PixelData(data=F.pad(gt, (0, w - gt.shape[-1], 0, h - gt.shape[-2]), value=0.))
        return data
