"""Batching for depth estimation: image and stack into one input dict, normalised and padded together."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData

from mmbokeh.registry import MODELS
from mmbokeh.structures import FRAME_KEYS, as_depth_inputs

TensorOrList = Union[torch.Tensor, List[torch.Tensor]]


@MODELS.register_module()
class DepthDataPreprocessor(ImgDataPreprocessor):
    """Batch ``dict(img, stack, stack_k | stack_focus, camera)`` inputs (see ``mmbokeh.structures.depth_inputs``).

    - ``img`` [B, 3, H, W] and ``stack`` [B, S, 3, H, W] (same encoding as the image): BGR -> RGB,
      ``(x - mean) / std`` (ImageNet, 0-255 scale) in one op per tensor, zero-padded bottom/right (``pad_value``
      after normalisation) to a multiple of ``pad_size_divisor`` (14 for DINOv2);
    - per-frame values (``stack_k``, ``stack_focus``) [B, S] and ``camera`` [B, 3] are stacked as float32;
    - ground-truth depth is padded with 0 when training (0 is never valid depth, so padding never counts);
    - ``pad_shape`` and ``batch_input_shape`` are written to each sample's metainfo.

    A bare image (a [3, H, W] tensor per sample) is taken as ``dict(img=...)``. Every sample of a batch must have
    the same stack length S.
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
        if x.shape[-3] != 3:
            raise ValueError(f'DepthDataPreprocessor: frames must have 3 channels, got {tuple(x.shape)}')
        if self._channel_conversion:
            x = x.flip(-3)
        return (x.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        raw = data['inputs']
        raw = raw if isinstance(raw, dict) else dict(img=raw)
        images = self._as_list(raw['img'], 'img')
        h, w = self._padded_size(images)
        inputs = dict(img=self._batch_frames(images, h, w))
        if 'stack' in raw:
            stacks = self._as_list(raw['stack'], 'stack')
            if len(stacks) != len(images):
                raise ValueError(f'DepthDataPreprocessor: {len(stacks)} stacks for {len(images)} images')
            inputs['stack'] = self._batch_frames(stacks, h, w)
        for key in [k for k in FRAME_KEYS if k != 'stack'] + ['camera']:
            if key in raw:
                values = raw[key]
                inputs[key] = (values if isinstance(values, torch.Tensor) else torch.stack(list(values))).float()
        inputs = as_depth_inputs(inputs)
        samples = data.get('data_samples')
        if samples is not None:
            self._pad_samples(samples, h, w, training)
        return dict(inputs=inputs, data_samples=samples)

    @staticmethod
    def _as_list(value: TensorOrList, key: str) -> List[torch.Tensor]:
        if isinstance(value, torch.Tensor):
            return list(value)
        if not isinstance(value, (list, tuple)) or not value:
            raise TypeError(f'DepthDataPreprocessor: inputs[{key!r}] must be a tensor or a non-empty list of '
                            f'tensors, got {type(value).__name__}')
        return list(value)

    def _padded_size(self, images: List[torch.Tensor]) -> tuple:
        for i, img in enumerate(images):
            if img.dim() != 3:
                raise ValueError(f"DepthDataPreprocessor: inputs['img'][{i}] must be [3, H, W], "
                                 f'got {tuple(img.shape)}')
        divisor = self.pad_size_divisor
        h = max(img.shape[-2] for img in images)
        w = max(img.shape[-1] for img in images)
        return -(-h // divisor) * divisor, -(-w // divisor) * divisor

    def _batch_frames(self, frames: List[torch.Tensor], h: int, w: int) -> torch.Tensor:
        """Samples [..., 3, h_i, w_i] -> normalised batch [B, ..., 3, h, w]; padding is ``pad_value``."""
        shapes = {tuple(f.shape[:-2]) for f in frames}
        if len(shapes) != 1:
            raise ValueError(f'DepthDataPreprocessor: samples of a batch need the same number of stack frames, '
                             f'got leading shapes {sorted(shapes)}')
        if all(tuple(f.shape[-2:]) == (h, w) for f in frames):
            return self.normalize(torch.stack(frames))
        batch = self.normalize(torch.stack([F.pad(f, (0, w - f.shape[-1], 0, h - f.shape[-2])) for f in frames]))
        for out, f in zip(batch, frames):
            out[..., f.shape[-2]:, :] = self.pad_value
            out[..., :, f.shape[-1]:] = self.pad_value
        return batch

    @staticmethod
    def _pad_samples(samples: list, h: int, w: int, training: bool) -> None:
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=(h, w), pad_shape=(h, w)))
            if training and 'gt_depth' in sample:
                gt = sample.gt_depth.data
                if gt.shape[-2] > h or gt.shape[-1] > w:
                    raise ValueError(f'gt_depth {tuple(gt.shape)} larger than the padded image {(h, w)} '
                                     f"for {sample.metainfo.get('img_path')}")
                sample.gt_depth = PixelData(data=F.pad(gt, (0, w - gt.shape[-1], 0, h - gt.shape[-2]), value=0.))

