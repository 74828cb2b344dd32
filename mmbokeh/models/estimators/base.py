"""BaseDepthEstimator: mmseg's estimator split (``loss`` / ``predict`` / ``_forward`` / ``extract_feat``)."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from mmbokeh.structures import DepthDataSample, DepthInputs

InputsType = Union[torch.Tensor, Mapping[str, torch.Tensor]]
SampleList = List[DepthDataSample]


class BaseDepthEstimator(BaseModel, metaclass=ABCMeta):
    """Base of mmbokeh's depth estimators.

    ``inputs`` is the batched input dict of :mod:`mmbokeh.structures.depth_inputs` (``img`` [B, 3, H, W], optional
    ``stack`` [B, S, 3, H, W] with ``stack_k`` / ``stack_focus`` [B, S], ``camera`` [B, 3]); a bare image tensor is
    taken as ``dict(img=...)``. ``forward(inputs, data_samples, mode)`` dispatches as mmengine expects:

    - ``'loss'`` -> :meth:`loss` (dict of losses, computed by the heads);
    - ``'predict'`` -> :meth:`predict` (data samples with ``pred_depth`` at the original size);
    - ``'tensor'`` -> :meth:`_forward` (raw head outputs, the whole model: stacks included).

    Args:
        data_preprocessor: default ``DepthDataPreprocessor``.
        test_cfg: ``resize_to_ori`` (default True): predictions are cropped to ``img_shape`` and resized (bilinear,
            align_corners as Depth Anything V2) to the ground truth's ``ori_shape``.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmbokeh.DepthDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.test_cfg = {'resize_to_ori': True, **(test_cfg or {})}

    def forward(self, inputs: InputsType, data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], SampleList, Any]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got '{mode}'")

    @abstractmethod
    def extract_feat(self, inputs: DepthInputs) -> Any:
        """Features of the batch (for ViT estimators: the encoder taps, fused with the stack when there is one)."""

    @abstractmethod
    def loss(self, inputs: InputsType, data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of a batch, computed by the head(s) against the samples' ground truth."""

    @abstractmethod
    def predict(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> SampleList:
        """Data samples with ``pred_depth`` (and any other predictions) at the original image size."""

    @abstractmethod
    def _forward(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> Any:
        """Raw outputs of the head(s), without post-processing."""

    def postprocess_result(self, depth: torch.Tensor, data_samples: Optional[SampleList],
                           extra_maps: Optional[Dict[str, torch.Tensor]] = None) -> SampleList:
        """depth [B, 1, H, W] -> ``pred_depth`` of each sample, cropped to ``img_shape`` (padding removed) and
        resized to ``ori_shape`` when ``test_cfg.resize_to_ori``. Makes samples when ``data_samples`` is None.

        ``extra_maps`` (name -> [B, C, H, W], e.g. SDNet's ``defocus`` and ``coc``) go through the same crop and
        resize and become ``pred_<name>`` fields.
        """
        if data_samples is None:
            data_samples = [DepthDataSample(metainfo=dict(img_shape=depth.shape[-2:])) for _ in depth]
        maps = {'depth': depth, **(extra_maps or {})}
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', depth.shape[-2:])[:2]
            ori = sample.metainfo.get('ori_shape')
            for name, batch in maps.items():
                pred = batch[i, None, :, :h, :w]
                if self.test_cfg['resize_to_ori'] and ori is not None and tuple(ori[:2]) != (h, w):
                    pred = F.interpolate(pred, size=tuple(ori[:2]), mode='bilinear', align_corners=True)
                setattr(sample, f'pred_{name}', PixelData(data=pred[0]))
        return data_samples
