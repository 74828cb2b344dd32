"""Any timm model with ``features_only=True`` as a multi-scale CNN / hierarchical-transformer backbone."""
import os
from typing import List, Optional, Sequence

import timm
import torch
from mmengine.model import BaseModule

from mmbokeh.registry import MODELS

_RESERVED = ('features_only', 'in_chans', 'out_indices', 'pretrained', 'pretrained_cfg_overlay')


@MODELS.register_module()
class TimmFeatures(BaseModule):
    """A timm feature pyramid (``timm.create_model(..., features_only=True)``): ResNets, ConvNeXts, PVTv2, ...

    Nothing is downloaded: weights come from a local file only.

    Args:
        model_name: timm model name, e.g. ``'resnet18'`` (strides 2, 4, 8, 16, 32) or ``'pvt_v2_b0'`` (4, 8, 16, 32).
        in_channels: channels of the input. With a checkpoint made for 3 channels, timm adapts the first conv
            (sums the RGB filters for 1 channel; repeats them scaled by ``3 / in_channels`` for more).
        out_indices: feature levels to return (timm's indices into ``feature_info``); None: timm's default (all).
        pretrained: load the weights of ``checkpoint``. There is no network access, so this needs ``checkpoint``.
        checkpoint: local state dict of the *full* timm model (timm key names; ``.pth``/``.pt`` read with
            ``weights_only=True``, or ``.safetensors``), e.g. ``torch.save(timm.create_model(name).state_dict(), f)``
            on a machine with the weights. Passed to timm as ``pretrained_cfg_overlay=dict(file=checkpoint)``, so the
            classifier is dropped and the first conv adapted by timm's own loading rules.
        init_cfg: mmengine init config; None keeps timm's initialisation (or the checkpoint).
        **timm_kwargs: more ``timm.create_model`` arguments (``output_stride``, ``drop_path_rate``, ...).

    Attributes:
        out_channels: channels of each returned level.
        strides: reduction of each returned level relative to the input (pixels of input per feature pixel).

    Forward: x [B, in_channels, H, W] -> list of [B, out_channels[i], ~H / strides[i], ~W / strides[i]] (sizes are
    the model's own rounding for H, W that are not multiples of the stride; ResNets round up).
    """

    def __init__(self,
                 model_name: str,
                 in_channels: int = 3,
                 out_indices: Optional[Sequence[int]] = None,
                 pretrained: bool = False,
                 checkpoint: Optional[str] = None,
                 init_cfg: Optional[dict] = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'TimmFeatures in_channels must be a positive int, got {in_channels!r}')
        reserved = sorted(set(timm_kwargs) & set(_RESERVED))
        if reserved:
            raise ValueError(f'TimmFeatures sets {reserved} itself; use in_channels / out_indices / pretrained / '
                             'checkpoint instead of timm keyword arguments')
        if pretrained and checkpoint is None:
            raise ValueError(
                f'TimmFeatures(pretrained=True) for {model_name!r} needs checkpoint=<local file>: there is no network '
                "access, so timm's hub weights cannot be downloaded. Save them where they are available with "
                f"torch.save(timm.create_model('{model_name}', pretrained=True).state_dict(), 'file.pth') and pass "
                "checkpoint='file.pth'")
        if checkpoint is not None and not pretrained:
            raise ValueError(f'TimmFeatures checkpoint={checkpoint!r} is only read with pretrained=True')
        kwargs = dict(features_only=True, in_chans=in_channels, pretrained=bool(pretrained), **timm_kwargs)
        if out_indices is not None:
            kwargs['out_indices'] = tuple(out_indices)
        if pretrained:
            if not os.path.isfile(checkpoint):
                raise FileNotFoundError(f'TimmFeatures checkpoint {checkpoint!r} is not a file')
            # ``source='timm'`` keeps timm from preferring an hf-hub source some model configs carry over the file.
            kwargs['pretrained_cfg_overlay'] = dict(file=str(checkpoint), source='timm')
        self.model_name = model_name
        self.in_channels = in_channels
        self.model = timm.create_model(model_name, **kwargs)
        info = self.model.feature_info
        self.out_channels: List[int] = list(info.channels())
        self.strides: List[int] = list(info.reduction())

    def init_weights(self) -> None:
        # timm initialises itself and loads ``checkpoint``; only an explicit init_cfg overrides that.
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x [B, in_channels, H, W] -> features, one per level (see the class docstring)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'TimmFeatures({self.model_name!r}) expects x of shape [B, {self.in_channels}, H, W], '
                             f'got {tuple(x.shape)}')
        return list(self.model(x))
