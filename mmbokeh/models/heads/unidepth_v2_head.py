"""UniDepthV2Head: camera module + depth decoder of UniDepthV2, and their losses."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from timm.layers import trunc_normal_

from mmbokeh.models.layers.ray_embedding import rays_from_intrinsics, rays_from_params
from mmbokeh.registry import MODELS

from .base_depth_head import BaseDepthHead, LossConfig
from .unidepth_camera import UniDepthCameraHead, intrinsics_matrix
from .unidepth_decoder import UniDepthDepthDecoder


@MODELS.register_module()
class UniDepthV2Head(BaseDepthHead):
    """UniDepthV2's decoder (official ``Decoder`` of ``UniDepth/unidepth/models/unidepthv2/decoder.py``).

    The camera module predicts pinhole intrinsics from the taps' class tokens; the rays of a given camera
    (``intrinsics``) replace the predicted ones for conditioning and for the output, as in the official code. The
    depth decoder gives log radius and log confidence; ``radius = exp(clip(log, -8, 8) + 2)``,
    ``confidence = exp(clip(log, -8, 8))`` and the output depth is the z component of ``rays * radius``.
    All intrinsics here use UniDepth's pixel centres ``(u + 0.5, v + 0.5)`` in pixels of the network input.

    Args:
        in_channels: encoder width; num_taps: taps read (4).
        hidden_dim, num_heads, expansion, layer_scale, depths, out_dim, kernel_size: see
            :class:`UniDepthDepthDecoder` (official ViT-L: 512, 8, 4, 1.0, [2, 2, 2], 64, 3).
        loss_decode: loss config(s); plain depth losses (``SiLogLoss``, ``MSEDepthLoss``) get the depth, those with
            ``takes_outputs`` (``UniDepthSILogLoss``, ``UniDepthConfidenceLoss``, ``UniDepthCameraLoss``) the output
            dict. Default ``UniDepthSILogLoss``.
    """

    def __init__(self,
                 in_channels: int = 1024,
                 num_taps: int = 4,
                 hidden_dim: int = 512,
                 num_heads: int = 8,
                 expansion: float = 4.0,
                 layer_scale: float = 1.0,
                 depths: Sequence[int] = (2, 2, 2),
                 out_dim: int = 64,
                 kernel_size: int = 3,
                 loss_decode: Optional[LossConfig] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_decode=loss_decode or dict(type='mmbokeh.UniDepthSILogLoss'), init_cfg=init_cfg)
        self.camera_head = UniDepthCameraHead(in_channels, num_taps, hidden_dim, num_heads, expansion, layer_scale)
        self.depth_decoder = UniDepthDepthDecoder(in_channels, num_taps, hidden_dim, num_heads, expansion,
                                                  layer_scale, depths, out_dim, kernel_size)

    def init_weights(self) -> None:
        """Official init: truncated normal (std 0.02) for Linear and Conv2d weights, zero biases, LayerNorm (1, 0);
        a checkpoint overrides it."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, taps: List[torch.Tensor], cls_tokens: List[torch.Tensor], grid: Tuple[int, int],
                image_size: Tuple[int, int], intrinsics: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """taps: list of [B, h*w, C]; cls_tokens: list of [B, C]; grid (h, w); image_size (H, W) pixels;
        intrinsics: given K [B, 3, 3] or None.

        Returns ``depth`` [B, 1, H, W] metres (z), ``radius`` [B, 1, H, W] metres, ``confidence`` [B, 1, H, W],
        ``intrinsics`` (predicted K) [B, 3, 3], ``rays`` (used) and ``rays_pred`` [B, 3, H, W], ``rays_gt`` (None
        without a camera) and ``depth_features`` [B, hidden, h, w].
        """
        params = self.camera_head(cls_tokens, image_size)
        rays_pred = rays_from_params(params, image_size)
        rays_gt = None if intrinsics is None else rays_from_intrinsics(intrinsics, image_size).to(rays_pred.dtype)
        rays = rays_pred if rays_gt is None else rays_gt
        log_depth, log_conf, latents = self.depth_decoder(taps, rays, grid, image_size)
        radius = torch.exp(log_depth.clamp(-8.0, 8.0) + 2.0)
        return dict(depth=rays[:, 2:3] * radius, radius=radius, confidence=torch.exp(log_conf.clamp(-8.0, 8.0)),
                    intrinsics=intrinsics_matrix(params), rays=rays, rays_pred=rays_pred, rays_gt=rays_gt,
                    depth_features=latents)
