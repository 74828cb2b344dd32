"""SDNet's DepthNet: residual depth refinement from the image, the defocus map and the Gaussian-splatting depth."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, NonLocal2d
from mmengine.logging import print_log

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

from ..layers.dense_aspp import DenseASPP
from .base_depth_head import BaseDepthHead, LossConfig

#: what DepthNet adds its residual to
RESIDUAL_BASES = ('init_depth', 'constant')


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of x [B, C, h, w] to ``size`` (no-op when equal)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


class _UpBlock(nn.Module):
    """Upsample to the skip's size (bilinear, x2 for sizes that are multiples of the strides), concatenate the skip,
    two 3x3 ConvModules (conv, BN, ReLU)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        conv = dict(kernel_size=3, padding=1, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'))
        self.conv1 = ConvModule(in_channels + skip_channels, out_channels, **conv)
        self.conv2 = ConvModule(out_channels, out_channels, **conv)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """x [B, in, h, w], skip [B, skip, H', W'] -> [B, out, H', W']."""
        return self.conv2(self.conv1(torch.cat([_resize(x, skip.shape[-2:]), skip], dim=1)))


@MODELS.register_module()
class DepthNet(BaseDepthHead):
    """SDNet's DepthNet (Zhang et al., "Depth Estimation Based on 3D Gaussian Splatting Siamese Defocus", III-F).

    Predicts the residual between an initial depth (rendered by the 3D Gaussian splatting model) and the ground
    truth, from the image, the defocus map (of the defocus head) and that initial depth:

    - input ``cat(image, defocus if use_defocus, init_depth / depth_scale if use_init_depth)``
      ([B, 3 + flags, H, W]; the encoder is built with that ``in_channels``);
    - encoder (ResNet-18 by default, :class:`~mmbokeh.models.backbones.TimmFeatures`), features at strides up to S
      (32 for ResNets);
    - :class:`~mmbokeh.models.layers.DenseASPP` on the deepest feature (the paper's "improved ASPP with dense
      connections between the 1x1 convolution and atrous convolution layers") to ``aspp_channels``;
    - self-attention (``attention``): mmcv's ``NonLocal2d`` (embedded Gaussian, Wang et al., CVPR 2018), the standard
      self-attention block of conv nets: full spatial attention at stride S (cheap there), residual with its output
      conv zero-initialised (an identity at init), any H, W and no position embedding to resample;
    - three upsampling blocks (bilinear up to the skip's size, concatenation of the encoder feature at stride S/2,
      S/4, S/8, i.e. 16, 8, 4 for ResNets, two 3x3 conv-BN-ReLU) of widths ``decoder_channels``;
    - bilinear upsampling to (H, W) and a 3x3 conv to one channel: ``residual`` in metres.

    ``depth = base + residual`` with ``base = init_depth`` (``residual_base='init_depth'``, the paper's eq. 15; needs
    ``use_init_depth``) or the constant ``default_depth`` (``residual_base='constant'``: the initial depth is then an
    input only, which the network may use or not; and the same-budget baseline without defocus map and initial
    depth). The last conv is zero-initialised (also after
    ``init_weights`` unless a ``Pretrained`` init_cfg loads weights), so at init ``depth`` equals the base exactly and
    training starts from the Gaussian-splatting depth. No clamp is applied: depth may go below 0 early in training.

    Losses (eq. 15-16): ``loss_decode`` (default L1 named ``loss_res``: ``mean |(init_depth + residual) - gt|`` over
    the valid pixels) on ``depth`` through :meth:`BaseDepthHead.loss_by_feat`, plus ``loss_smooth`` (e.g.
    ``dict(type='mmbokeh.EdgeAwareSmoothnessLoss', loss_weight=1e-3)``) on ``depth`` guided by the image.

    Args:
        encoder: config of a module with ``in_channels`` (set here), ``out_channels`` and ``strides`` lists, whose
            forward gives a list of features; it must have levels at strides S/2, S/4 and S/8 below its deepest S.
        use_defocus: feed the defocus map [B, 1, H, W] (e.g. the defocus head's map in [0, 1]).
        use_init_depth: feed the initial depth (divided by ``depth_scale``).
        residual_base: 'init_depth' (the paper: depth = initial depth + residual) or 'constant' (depth =
            ``default_depth`` + residual); None: 'init_depth' when ``use_init_depth``, else 'constant'.
        depth_scale: metres; the initial depth enters the encoder divided by it (NYUv2: 10, FoD500: 3).
        default_depth: metres; the base depth of ``residual_base='constant'``.
        aspp_channels: width of the DenseASPP branches and output.
        decoder_channels: widths of the three upsampling blocks.
        attention: add the NonLocal2d self-attention after the DenseASPP.
        loss_decode: depth loss config(s) against ``gt_depth`` (see :class:`BaseDepthHead`).
        loss_smooth: edge-aware smoothness loss config (``forward(depth, image)``), or None.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 encoder: dict = dict(type='mmbokeh.TimmFeatures', model_name='resnet18'),
                 use_defocus: bool = True,
                 use_init_depth: bool = True,
                 residual_base: Optional[str] = None,
                 depth_scale: float = 10.0,
                 default_depth: float = 1.0,
                 aspp_channels: int = 128,
                 decoder_channels: Sequence[int] = (128, 64, 32),
                 attention: bool = True,
                 loss_decode: Optional[LossConfig] = dict(type='mmbokeh.L1DepthLoss', loss_name='loss_res'),
                 loss_smooth: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_decode=copy.deepcopy(loss_decode), init_cfg=init_cfg)
        if not depth_scale > 0:
            raise ValueError(f'DepthNet depth_scale must be > 0 metres, got {depth_scale!r}')
        if not default_depth > 0:
            raise ValueError(f'DepthNet default_depth must be > 0 metres, got {default_depth!r}')
        decoder_channels = list(decoder_channels)
        if len(decoder_channels) != 3 or any(c < 1 for c in decoder_channels):
            raise ValueError(f'DepthNet decoder_channels needs 3 positive widths (one per upsampling block), got '
                             f'{decoder_channels}')
        if aspp_channels < 1:
            raise ValueError(f'DepthNet aspp_channels must be >= 1, got {aspp_channels}')
        self.use_defocus, self.use_init_depth = bool(use_defocus), bool(use_init_depth)
        if residual_base is None:
            residual_base = 'init_depth' if self.use_init_depth else 'constant'
        if residual_base not in RESIDUAL_BASES:
            raise ValueError(f'DepthNet residual_base must be one of {RESIDUAL_BASES} or None, got {residual_base!r}')
        if residual_base == 'init_depth' and not self.use_init_depth:
            raise ValueError("DepthNet residual_base='init_depth' needs use_init_depth=True (the initial depth is the "
                             "base); use residual_base='constant'")
        self.residual_base = residual_base
        self.depth_scale, self.default_depth = float(depth_scale), float(default_depth)
        self.in_channels = 3 + int(self.use_defocus) + int(self.use_init_depth)

        encoder = copy.deepcopy(encoder)
        if encoder.get('in_channels', self.in_channels) != self.in_channels:
            raise ValueError(f"DepthNet sets the encoder's in_channels to {self.in_channels} (3 + use_defocus + "
                             f"use_init_depth); the encoder config says in_channels={encoder['in_channels']}")
        encoder['in_channels'] = self.in_channels
        self.encoder = MODELS.build(encoder)
        strides, channels = list(self.encoder.strides), list(self.encoder.out_channels)
        self.deep_index = len(strides) - 1
        deepest = strides[-1]
        self.skip_indices: List[int] = []
        for target in (deepest // 2, deepest // 4, deepest // 8):
            found = [i for i, s in enumerate(strides) if s == target]
            if deepest % 8 or not found:
                raise ValueError(f'DepthNet needs encoder features at strides {deepest // 2}, {deepest // 4}, '
                                 f'{deepest // 8} below its deepest stride {deepest}; the encoder gives strides '
                                 f'{strides} (set its out_indices)')
            self.skip_indices.append(found[-1])

        self.aspp = DenseASPP(channels[self.deep_index], aspp_channels)
        self.attention = NonLocal2d(aspp_channels, mode='embedded_gaussian') if attention else nn.Identity()
        ins = [aspp_channels] + decoder_channels[:-1]
        self.up_blocks = nn.ModuleList(
            _UpBlock(i, channels[s], o) for i, s, o in zip(ins, self.skip_indices, decoder_channels))
        self.residual_conv = nn.Conv2d(decoder_channels[-1], 1, 3, padding=1)
        self._zero_residual_conv()

        self.loss_smooth = None if loss_smooth is None else MODELS.build(copy.deepcopy(loss_smooth))
        self._warned_no_image = False

    def _zero_residual_conv(self) -> None:
        nn.init.zeros_(self.residual_conv.weight)
        nn.init.zeros_(self.residual_conv.bias)

    def init_weights(self) -> None:
        super().init_weights()
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        if not any(isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs):
            self._zero_residual_conv()  # depth starts at the base whatever init_cfg did to the convs

    def _check(self, name: str, x: Optional[torch.Tensor], image: torch.Tensor, flag: str) -> torch.Tensor:
        B, _, H, W = image.shape
        if x is None:
            raise ValueError(f'DepthNet({flag}=True) needs {name} [B, 1, H, W] = [{B}, 1, {H}, {W}], got None; '
                             f'pass it or set {flag}=False')
        if tuple(x.shape) != (B, 1, H, W):
            raise ValueError(f'DepthNet {name} must be [B, 1, H, W] = [{B}, 1, {H}, {W}] like the image, got '
                             f'{tuple(x.shape)}')
        return x

    def forward(self,
                image: torch.Tensor,
                defocus: Optional[torch.Tensor] = None,
                init_depth: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Refine the initial depth.

        Args:
            image: [B, 3, H, W] normalised RGB (any H, W).
            defocus: [B, 1, H, W] defocus map; needed when ``use_defocus``, ignored otherwise.
            init_depth: [B, 1, H, W] metres (Gaussian-splatting depth); needed when ``use_init_depth``, ignored
                otherwise. Gradients flow into it (detach it to keep them from the renderer).

        Returns:
            dict(depth=[B, 1, H, W] metres, residual=[B, 1, H, W] metres), ``depth = base + residual``.
        """
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f'DepthNet image must be [B, 3, H, W], got {tuple(image.shape)}')
        parts = [image]
        if self.use_defocus:
            parts.append(self._check('defocus', defocus, image, 'use_defocus').to(image.dtype))
        if self.use_init_depth:
            init_depth = self._check('init_depth', init_depth, image, 'use_init_depth')
            parts.append(init_depth.to(image.dtype) / self.depth_scale)
        feats = self.encoder(torch.cat(parts, dim=1))
        x = self.attention(self.aspp(feats[self.deep_index]))
        for block, index in zip(self.up_blocks, self.skip_indices):
            x = block(x, feats[index])
        residual = self.residual_conv(_resize(x, image.shape[-2:]))
        base = init_depth if self.residual_base == 'init_depth' else residual.new_tensor(self.default_depth)
        return dict(depth=base + residual, residual=residual)

    def loss_by_feat(self,
                     outputs: Union[torch.Tensor, Dict[str, torch.Tensor]],
                     data_samples: List[DepthDataSample],
                     train_cfg: Dict,
                     image: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """``loss_decode`` on ``outputs['depth']`` against ``gt_depth`` (eq. 15, valid pixels per ``train_cfg``'s
        ``min_depth`` / ``max_depth``) plus ``loss_smooth(depth, image)`` (eq. 16) when configured and ``image``
        [B, C, H, W] is given (a configured smoothness loss without an image is skipped, with a warning once)."""
        losses = super().loss_by_feat(outputs, data_samples, train_cfg)
        if self.loss_smooth is None:
            return losses
        if image is None:
            if not self._warned_no_image:
                print_log('DepthNet.loss_by_feat: loss_smooth is configured but no image was given; skipping it',
                          logger='current', level=30)
                self._warned_no_image = True
            return losses
        depth = outputs['depth'] if isinstance(outputs, dict) else outputs
        name = getattr(self.loss_smooth, 'loss_name', 'loss_smooth')
        value = self.loss_smooth(depth, image)
        losses[name] = losses[name] + value if name in losses else value
        return losses

    def loss(self, image: torch.Tensor, defocus: Optional[torch.Tensor], init_depth: Optional[torch.Tensor],
             data_samples: List[DepthDataSample], train_cfg: Dict) -> Dict[str, torch.Tensor]:
        """Forward and :meth:`loss_by_feat` (the smoothness term guided by ``image``)."""
        return self.loss_by_feat(self(image, defocus, init_depth), data_samples, train_cfg, image=image)

    def predict(self, image: torch.Tensor, defocus: Optional[torch.Tensor] = None,
                init_depth: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Refined depth [B, 1, H, W] in metres."""
        return self(image, defocus, init_depth)['depth']
