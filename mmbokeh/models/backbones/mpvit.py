"""MPViT backbone (Lee et al., "MPViT: Multi-Path Vision Transformer for Dense Prediction", CVPR 2022).

Each stage embeds its input along several paths of stacked 3x3 depthwise-separable convs (receptive fields 3, 5, 7),
runs one factorised-attention encoder per path plus a local conv branch, and aggregates them with a 1x1 conv.
Written from the paper and the published architecture facts; parameter counts equal the official models'.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from timm.layers import DropPath, Mlp, trunc_normal_
from torch.nn.modules.batchnorm import _BatchNorm

from mmbokeh.registry import MODELS

MPVIT_ARCHS = {
    'tiny': dict(num_path=[2, 3, 3, 3], num_layers=[1, 2, 4, 1], embed_dims=[64, 96, 176, 216], mlp_ratio=2,
                 num_heads=8),
    'xsmall': dict(num_path=[2, 3, 3, 3], num_layers=[1, 2, 4, 1], embed_dims=[64, 128, 192, 256], mlp_ratio=4,
                   num_heads=8),
    'small': dict(num_path=[2, 3, 3, 3], num_layers=[1, 3, 6, 3], embed_dims=[64, 128, 216, 288], mlp_ratio=4,
                  num_heads=8),
    'base': dict(num_path=[2, 3, 3, 3], num_layers=[1, 3, 8, 3], embed_dims=[128, 224, 368, 480], mlp_ratio=4,
                 num_heads=8),
}
# Conv relative position encoding: kernel size -> number of heads using it (sums to num_heads).
DEFAULT_CRPE_WINDOWS = {3: 2, 5: 3, 7: 3}
_ARCH_KEYS = ('num_path', 'num_layers', 'embed_dims', 'mlp_ratio', 'num_heads')


def _normal_fan_out_(conv: nn.Conv2d, per_group: bool = False) -> None:
    """He-normal init of a conv weight from its fan-out (``k*k*out``, divided by ``groups`` if ``per_group``)."""
    fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels
    if per_group:
        fan_out //= conv.groups
    nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / fan_out))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm (weight ``bn_weight_init``, bias 0) -> optional Hardswish. [B, C, H, W] in/out."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, act: bool = False, bn_weight_init: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.Hardswish() if act else nn.Identity()
        _normal_fan_out_(self.conv)
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWPatchEmbed(nn.Module):
    """One path step: depthwise 3x3 (stride 1 or 2, pad 1) -> pointwise 1x1 -> BN -> Hardswish, C channels kept."""

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.Hardswish()
        _normal_fan_out_(self.depthwise)
        _normal_fan_out_(self.pointwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.pointwise(self.depthwise(x))))


class ConvPosEncoding(nn.Module):
    """Conditional position encoding: tokens + depthwise 3x3 conv of their grid. [B, N, C] -> [B, N, C]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)

    def forward(self, x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, *size)
        return (self.conv(grid) + grid).flatten(2).transpose(1, 2)


class ConvRelPosEncoding(nn.Module):
    """Conv relative position encoding: ``q * dwconv(v)``, heads split over kernel sizes ``windows``.

    q, v [B, heads, N, head_dim] -> [B, heads, N, head_dim].
    """

    def __init__(self, head_dim: int, num_heads: int, windows: Dict[int, int]) -> None:
        super().__init__()
        if sum(windows.values()) != num_heads:
            raise ValueError(f'crpe windows {windows} must split all num_heads={num_heads} heads')
        self.splits = [heads * head_dim for heads in windows.values()]
        self.convs = nn.ModuleList(
            nn.Conv2d(ch, ch, k, 1, k // 2, groups=ch) for k, ch in zip(windows, self.splits))

    def forward(self, q: torch.Tensor, v: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        b, heads, n, head_dim = v.shape
        grid = v.transpose(2, 3).reshape(b, heads * head_dim, *size)  # channel = head * head_dim + d
        conv_v = torch.cat([conv(part) for conv, part in zip(self.convs, grid.split(self.splits, dim=1))], dim=1)
        return q * conv_v.reshape(b, heads, head_dim, n).transpose(2, 3)


class FactorAttention(nn.Module):
    """Factorised attention ``q @ (softmax_N(k)^T @ v)`` plus conv relative position encoding. [B, N, C] in/out."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, crpe: ConvRelPosEncoding, size: Tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        context = k.softmax(dim=2).transpose(2, 3) @ v  # [B, heads, head_dim, head_dim]
        x = self.scale * (q @ context) + crpe(q, v, size)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class MHCABlock(nn.Module):
    """Pre-norm block: x + DropPath(FactorAttention(LN(x))); x + DropPath(MLP(LN(x))). [B, N, C] in/out."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = FactorAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, crpe: ConvRelPosEncoding, size: Tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), crpe, size))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class MHCAEncoder(nn.Module):
    """One path's transformer: MHCA blocks sharing one conv position encoding (applied before each block) and one
    conv relative position encoding. [B, C, H, W] -> [B, C, H, W]."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, mlp_ratio: float, drop_paths: Sequence[float],
                 crpe_windows: Dict[int, int]) -> None:
        super().__init__()
        self.cpe = ConvPosEncoding(dim)
        self.crpe = ConvRelPosEncoding(dim // num_heads, num_heads, crpe_windows)
        self.blocks = nn.ModuleList(MHCABlock(dim, num_heads, mlp_ratio, drop_paths[i]) for i in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        for block in self.blocks:
            x = block(self.cpe(x, (h, w)), self.crpe, (h, w))
        return x.transpose(1, 2).reshape(b, c, h, w)


class LocalConvBlock(nn.Module):
    """Local branch: x + [1x1 ConvBN + Hardswish -> dw 3x3 -> BN -> Hardswish -> 1x1 ConvBN]. [B, C, H, W] in/out."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(channels, channels, act=True)
        self.dwconv = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.Hardswish()
        self.conv2 = ConvBN(channels, channels)
        for conv in (self.conv1.conv, self.dwconv, self.conv2.conv):
            _normal_fan_out_(conv, per_group=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.bn(self.dwconv(self.conv1(x)))))


class MPViTStage(nn.Module):
    """Multi-scale patch embedding (paths applied one after another), one encoder per path, local conv branch on
    the first path, 1x1 aggregation. [B, C, H, W] -> [B, C_out, ceil(H / stride), ceil(W / stride)]."""

    def __init__(self, dim: int, out_dim: int, num_path: int, num_layers: int, num_heads: int, mlp_ratio: float,
                 drop_paths: Sequence[float], stride: int, crpe_windows: Dict[int, int]) -> None:
        super().__init__()
        self.embeds = nn.ModuleList(DWPatchEmbed(dim, stride if i == 0 else 1) for i in range(num_path))
        self.encoders = nn.ModuleList(
            MHCAEncoder(dim, num_layers, num_heads, mlp_ratio, drop_paths, crpe_windows) for _ in range(num_path))
        self.local = LocalConvBlock(dim)
        self.aggregate = ConvBN(dim * (num_path + 1), out_dim, act=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = []
        for embed in self.embeds:
            x = embed(x)  # receptive field grows 3, 5, 7, ...
            paths.append(x)
        feats = [self.local(paths[0])] + [encoder(p) for encoder, p in zip(self.encoders, paths)]
        return self.aggregate(torch.cat(feats, dim=1))


def _resolve_arch(arch: Union[str, dict]) -> dict:
    if isinstance(arch, str):
        if arch not in MPVIT_ARCHS:
            raise ValueError(f"MPViT arch must be one of {sorted(MPVIT_ARCHS)} or a dict, got '{arch}'")
        arch = MPVIT_ARCHS[arch]
    if not isinstance(arch, dict):
        raise TypeError(f'MPViT arch must be a str or a dict, got {type(arch).__name__}')
    missing = [k for k in _ARCH_KEYS if k not in arch]
    unknown = [k for k in arch if k not in _ARCH_KEYS + ('crpe_windows',)]
    if missing or unknown:
        raise ValueError(f'MPViT arch dict needs keys {list(_ARCH_KEYS)} (optional crpe_windows), '
                         f'missing {missing}, unknown {unknown}')
    arch = dict(arch, crpe_windows=dict(arch.get('crpe_windows', DEFAULT_CRPE_WINDOWS)))
    num_stages = len(arch['embed_dims'])
    if not (num_stages == len(arch['num_path']) == len(arch['num_layers'])) or num_stages == 0:
        raise ValueError(f"MPViT arch num_path, num_layers and embed_dims must have one entry per stage, got {arch}")
    if any(d % arch['num_heads'] for d in arch['embed_dims']):
        raise ValueError(f"MPViT arch embed_dims {arch['embed_dims']} must be divisible by "
                         f"num_heads={arch['num_heads']}")
    return arch


@MODELS.register_module()
class MPViT(BaseModule):
    """Multi-Path Vision Transformer returning one feature map per selected stage.

    Args:
        arch: 'tiny', 'xsmall', 'small', 'base' (see ``MPVIT_ARCHS``) or a dict with keys num_path, num_layers,
            embed_dims, mlp_ratio, num_heads (and optional crpe_windows {kernel: heads}).
        in_channels: image channels.
        out_indices: stages whose outputs are returned (0..3), strides 4, 8, 16, 32.
        drop_path_rate: stochastic depth, linear from 0 over all blocks (a stage's paths share its rates).
        num_classes: > 0 adds the ImageNet head (global average pool + Linear) used by :meth:`forward_classifier`.
        norm_eval: keep every BatchNorm in eval mode (frozen statistics) while training.
        frozen_stages: -1 freezes nothing, n >= 0 freezes the stem and the first n stages.

    Forward: [B, in_channels, H, W] -> tuple of [B, out_channels[i], ceil(H / strides[i]), ceil(W / strides[i])].
    Stage i outputs embed_dims[i + 1] channels (the last stage embed_dims[-1]), e.g. tiny 96, 176, 216, 216.
    Official ImageNet checkpoints load after :func:`convert_official_mpvit`.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.0,
                 num_classes: int = 0,
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch = _resolve_arch(arch)
        dims, num_layers = list(self.arch['embed_dims']), list(self.arch['num_layers'])
        num_stages = len(dims)
        bad = [i for i in out_indices if not -num_stages <= i < num_stages]
        if bad or not out_indices:
            raise ValueError(f'out_indices must be stage indices in [0, {num_stages - 1}], got {list(out_indices)}')
        self.out_indices = sorted({i % num_stages for i in out_indices})
        if len(self.out_indices) != len(out_indices):
            raise ValueError(f'out_indices must be distinct, got {list(out_indices)}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {num_stages}], got {frozen_stages}')
        if num_classes < 0:
            raise ValueError(f'num_classes must be >= 0, got {num_classes}')
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages
        self.num_classes = num_classes

        rates = torch.linspace(0, drop_path_rate, sum(num_layers)).tolist()
        starts = [sum(num_layers[:i]) for i in range(num_stages)]
        out_dims = dims[1:] + dims[-1:]
        self.stem = nn.Sequential(ConvBN(in_channels, dims[0] // 2, 3, 2, 1, act=True),
                                  ConvBN(dims[0] // 2, dims[0], 3, 2, 1, act=True))
        self.stages = nn.ModuleList(
            MPViTStage(dims[i], out_dims[i], self.arch['num_path'][i], num_layers[i], self.arch['num_heads'],
                       self.arch['mlp_ratio'], rates[starts[i]:starts[i] + num_layers[i]], 1 if i == 0 else 2,
                       self.arch['crpe_windows']) for i in range(num_stages))
        self.head = nn.Linear(dims[-1], num_classes) if num_classes > 0 else None
        self.out_channels: List[int] = [out_dims[i] for i in self.out_indices]
        self.strides: List[int] = [4 * 2**i for i in self.out_indices]
        self.apply(self._init_linear_and_layernorm)
        self._freeze_stages()

    @staticmethod
    def _init_linear_and_layernorm(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def _frozen_modules(self) -> List[nn.Module]:
        return [self.stem, *self.stages[:self.frozen_stages]] if self.frozen_stages >= 0 else []

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> 'MPViT':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def _run(self, x: torch.Tensor, last_stage: int) -> List[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for stage in self.stages[:last_stage + 1]:
            x = stage(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """[B, in_channels, H, W] -> maps of the ``out_indices`` stages, [B, C_i, ceil(H / s_i), ceil(W / s_i)]."""
        outs = self._run(x, self.out_indices[-1])
        return tuple(outs[i] for i in self.out_indices)

    def forward_classifier(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, H, W] -> logits [B, num_classes] (global average pool of the last stage + Linear)."""
        if self.head is None:
            raise RuntimeError('MPViT.forward_classifier needs num_classes > 0')
        return self.head(self._run(x, len(self.stages) - 1)[-1].mean(dim=(2, 3)))


# Official key -> this module's key; the official blocks also hold aliases of their encoder's shared cpe/crpe.
_OFFICIAL_RENAMES = [
    (r'^patch_embed_stages\.(\d+)\.patch_embeds\.(\d+)\.patch_conv\.dwconv\.', r'stages.\1.embeds.\2.depthwise.'),
    (r'^patch_embed_stages\.(\d+)\.patch_embeds\.(\d+)\.patch_conv\.pwconv\.', r'stages.\1.embeds.\2.pointwise.'),
    (r'^patch_embed_stages\.(\d+)\.patch_embeds\.(\d+)\.patch_conv\.bn\.', r'stages.\1.embeds.\2.bn.'),
    (r'^mhca_stages\.(\d+)\.mhca_blks\.(\d+)\.cpe\.proj\.', r'stages.\1.encoders.\2.cpe.conv.'),
    (r'^mhca_stages\.(\d+)\.mhca_blks\.(\d+)\.crpe\.conv_list\.', r'stages.\1.encoders.\2.crpe.convs.'),
    (r'^mhca_stages\.(\d+)\.mhca_blks\.(\d+)\.MHCA_layers\.(\d+)\.factoratt_crpe\.(qkv|proj)\.',
     r'stages.\1.encoders.\2.blocks.\3.attn.\4.'),
    (r'^mhca_stages\.(\d+)\.mhca_blks\.(\d+)\.MHCA_layers\.(\d+)\.(norm1|norm2|mlp)\.',
     r'stages.\1.encoders.\2.blocks.\3.\4.'),
    (r'^mhca_stages\.(\d+)\.InvRes\.norm\.', r'stages.\1.local.bn.'),
    (r'^mhca_stages\.(\d+)\.InvRes\.', r'stages.\1.local.'),
    (r'^mhca_stages\.(\d+)\.aggregate\.', r'stages.\1.aggregate.'),
    (r'^stem\.(\d+)\.(conv|bn)\.', r'stem.\1.\2.'),
    (r'^cls_head\.cls\.', 'head.'),
]
_OFFICIAL_ALIASES = re.compile(r'\.MHCA_layers\.\d+\.(cpe|crpe|factoratt_crpe\.crpe)\.')


def convert_official_mpvit(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename an official MPViT checkpoint (youngwanLEE/MPViT; its ``model`` entry or the state dict itself) to
    :class:`MPViT` keys; drops the per-block aliases of shared position encodings. Unknown keys raise KeyError."""
    state_dict = state_dict.get('model', state_dict.get('state_dict', state_dict))
    converted = {}
    for key, value in state_dict.items():
        if _OFFICIAL_ALIASES.search(key):
            continue
        for pattern, replacement in _OFFICIAL_RENAMES:
            new_key, hits = re.subn(pattern, replacement, key)
            if hits:
                converted[new_key] = value
                break
        else:
            raise KeyError(f'unknown official MPViT key {key!r}')
    return converted
