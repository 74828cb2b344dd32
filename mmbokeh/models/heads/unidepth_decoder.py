"""UniDepthV2's depth decoder: tap adapters, camera prompting by cross-attention to the ray embedding,
upsampling, and the log-depth and log-confidence outputs."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmbokeh.models.layers.cross_attention_block import CrossAttentionBlock
from mmbokeh.models.layers.ray_embedding import RayEmbedding
from mmbokeh.models.layers.res_upsample import ResUpsampleBilinear


def _output_branch(dim: int) -> nn.Sequential:
    """conv3x3 (reflect) dim -> 32, LeakyReLU, conv1x1 32 -> 1 (official ``to_depth_hr`` / ``to_confidence_hr``)."""
    return nn.Sequential(nn.Conv2d(dim, 32, 3, padding=1, padding_mode='reflect'), nn.LeakyReLU(),
                         nn.Conv2d(32, 1, 1))


class UniDepthDepthDecoder(nn.Module):
    """Depth decoder of UniDepthV2 (official ``input_adapter`` and ``DepthHead`` of
    ``UniDepth/unidepth/models/unidepthv2/decoder.py``).

    1. ``input_adapters``: one Linear C -> hidden per tap.
    2. ``prompt_camera``: per tap, cross-attention of its tokens to the ray embedding (:class:`RayEmbedding`; no
       q/kv/out bias, no LayerScale) and an MLP.
    3. ``to_latents`` on tap 0, then per stage i: add ``process_features[i]`` (transposed conv, stride
       ``max(1, 2i)``) of tap i + 1 and upsample 2x (``ups[i]``): widths hidden -> hidden -> hidden/2 -> hidden/4 at
       2x, 4x, 8x the token grid.
    4. ``depth_mlp`` (LN + Linear) -> ``to_depth_lr`` (conv3x3 reflect, half width) -> bilinear (align_corners)
       to the input size -> ``to_depth_hr``; the same for confidence with its own weights.

    Args:
        in_channels: encoder width C.
        num_taps: taps read (4).
        hidden_dim, num_heads, expansion, layer_scale: widths and attention settings (official 512, 8, 4, 1.0).
        depths: residual units per upsampling stage (official [2, 2, 2]).
        out_dim: minimum width of the last stage (official 64).
        kernel_size: of the residual units (official 3).

    Forward: taps, a list of [B, h*w, C]; rays [B, 3, H, W] unit vectors; grid (h, w); image_size (H, W) ->
    (log depth [B, 1, H, W], log confidence [B, 1, H, W], latents [B, hidden, h, w]), unclipped.
    """

    def __init__(self, in_channels: int = 1024, num_taps: int = 4, hidden_dim: int = 512, num_heads: int = 8,
                 expansion: float = 4.0, layer_scale: float = 1.0, depths: Sequence[int] = (2, 2, 2),
                 out_dim: int = 64, kernel_size: int = 3) -> None:
        super().__init__()
        if len(depths) != num_taps - 1:
            raise ValueError(f'UniDepthDepthDecoder: {num_taps} taps need {num_taps - 1} upsampling stages, got '
                             f'depths={list(depths)}')
        self.input_adapters = nn.ModuleList(nn.Linear(in_channels, hidden_dim) for _ in range(num_taps))
        self.ray_embedding = RayEmbedding(hidden_dim)
        self.prompt_camera = nn.ModuleList(
            CrossAttentionBlock(hidden_dim, num_heads, expansion, layer_scale=-1.0, context_dim=hidden_dim,
                                use_bias=False) for _ in range(num_taps))
        self.to_latents = nn.Linear(hidden_dim, hidden_dim)
        self.process_features, self.ups = nn.ModuleList(), nn.ModuleList()
        for i, depth in enumerate(depths):
            current = min(hidden_dim, 2 * hidden_dim // 2 ** i)
            nxt = 2 * hidden_dim // 2 ** (i + 1)
            output = max(nxt, out_dim)
            stride = max(1, 2 * i)
            self.process_features.append(nn.ConvTranspose2d(hidden_dim, current, stride, stride=stride))
            self.ups.append(ResUpsampleBilinear(current, output, depth, kernel_size, layer_scale))
        self.depth_mlp = nn.Sequential(nn.LayerNorm(nxt), nn.Linear(nxt, output))
        self.confidence_mlp = nn.Sequential(nn.LayerNorm(nxt), nn.Linear(nxt, output))
        self.to_depth_lr = nn.Conv2d(output, output // 2, 3, padding=1, padding_mode='reflect')
        self.to_confidence_lr = nn.Conv2d(output, output // 2, 3, padding=1, padding_mode='reflect')
        self.to_depth_hr = _output_branch(output // 2)
        self.to_confidence_hr = _output_branch(output // 2)

    @staticmethod
    def _project(x: torch.Tensor, mlp: nn.Module, lr: nn.Module, hr: nn.Module,
                 image_size: Tuple[int, int]) -> torch.Tensor:
        x = lr(mlp(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
        return hr(F.interpolate(x, size=tuple(image_size), mode='bilinear', align_corners=True))

    def forward(self, taps: List[torch.Tensor], rays: torch.Tensor, grid: Tuple[int, int],
                image_size: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, w = grid
        rays_embedding = self.ray_embedding(rays, grid)
        feats = [prompt(adapter(x), rays_embedding)
                 for adapter, prompt, x in zip(self.input_adapters, self.prompt_camera, taps)]
        latents = self.to_latents(feats[0]).transpose(1, 2).unflatten(-1, (h, w))
        feats = [f.transpose(1, 2).unflatten(-1, (h, w)) for f in feats]
        x = latents
        for i, (process, up) in enumerate(zip(self.process_features, self.ups)):
            x = up(x + process(feats[i + 1]))
        log_depth = self._project(x, self.depth_mlp, self.to_depth_lr, self.to_depth_hr, image_size)
        log_conf = self._project(x, self.confidence_mlp, self.to_confidence_lr, self.to_confidence_hr, image_size)
        return log_depth, log_conf, latents
