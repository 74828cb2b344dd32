"""Key mapping from official Depth Anything V2 / BokehDepth checkpoints to mmbokeh models."""
from typing import Callable, Dict, Tuple

import torch

from mmbokeh.models.backbones.dinov2 import DINOV2_ARCHS
from mmbokeh.utils.io import atomic_torch_save

WIDTH_TO_ARCH = {384: 's', 768: 'b', 1024: 'l'}
DROPPED_KEYS = ('pretrained.mask_token', )  # DINOv2's masked-image-modelling token: unused for depth.


def unwrap_state_dict(ckpt: dict, src: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """Plain state dict from an official checkpoint: plain, ``{'model': ...}`` or ``{'state_dict': ...}``,
    with any ``module.`` (DDP) prefix removed."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'{src}: expected a dict checkpoint, got {type(ckpt).__name__}')
    for key in ('model', 'state_dict'):
        if key in ckpt and isinstance(ckpt[key], dict):
            ckpt = ckpt[key]
            break
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()}


def encoder_arch(state: Dict[str, torch.Tensor], src: str = 'checkpoint') -> str:
    """'s' / 'b' / 'l' read from the encoder width (``pretrained.cls_token`` [1, 1, C])."""
    if 'pretrained.cls_token' not in state:
        raise KeyError(f"{src}: no 'pretrained.cls_token'; is this an official Depth Anything V2 checkpoint? "
                       f'first keys: {list(state)[:5]}')
    width = state['pretrained.cls_token'].shape[-1]
    if width not in WIDTH_TO_ARCH:
        raise ValueError(f'{src}: encoder width {width} not supported (ViT-S/B/L: {sorted(WIDTH_TO_ARCH)})')
    arch = WIDTH_TO_ARCH[width]
    n_blocks = len({k.split('.')[2] for k in state if k.startswith('pretrained.blocks.')})
    expected = {'s': 12, 'b': 12, 'l': 24}[arch]
    if n_blocks != expected:
        raise ValueError(f'{src}: width {width} ({DINOV2_ARCHS[arch]["model_name"]}) expects {expected} blocks, '
                         f'found {n_blocks}')
    return arch


DAV2_PREFIXES = {'pretrained.': 'backbone.vit.', 'depth_head.': 'decode_head.'}
# Official BokehDepth ``DepthAnythingV2DSFA``: DSFA blocks under encoder_fusion.layers.{tap}.block.
BOKEHDEPTH_PREFIXES = dict(DAV2_PREFIXES, **{'encoder_fusion.layers.': 'neck.layers.'})


def _rename(state: Dict[str, torch.Tensor], prefixes: Dict[str, str]) -> Tuple[Dict[str, torch.Tensor], list]:
    out, unknown = {}, []
    for key, value in state.items():
        if key in DROPPED_KEYS:
            continue
        src = next((p for p in prefixes if key.startswith(p)), None)
        if src is None:
            unknown.append(key)
            continue
        new = prefixes[src] + key[len(src):]
        out[new.replace('.block.', '.', 1) if src == 'encoder_fusion.layers.' else new] = value
    return out, unknown


def convert_dav2(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], list]:
    """Official DAv2 keys -> mmbokeh ``BokehDepthEstimator`` keys. Returns (new state, keys not recognised)."""
    return _rename(state, DAV2_PREFIXES)


def convert_bokehdepth(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], list]:
    """Official BokehDepth ``DepthAnythingV2DSFA`` keys -> mmbokeh keys (estimator with a DefocusAggregation neck)."""
    return _rename(state, BOKEHDEPTH_PREFIXES)


def fused_taps(state: Dict[str, torch.Tensor]) -> list:
    """Tap indices that carry a DSFA block in an official BokehDepth state dict."""
    return sorted({int(k.split('.')[2]) for k in state if k.startswith('encoder_fusion.layers.')})


def convert_file(src: str, dst: str, convert: Callable = convert_dav2, kind: str = 'Depth Anything V2') -> dict:
    """Load ``src`` with the safe loader, rename its keys with ``convert``, save atomically to ``dst``.

    Returns the saved ``meta`` (arch, source, converter) with the official ``state`` and ``num_tensors`` written.
    Raises ``KeyError`` listing keys that ``convert`` does not recognise as ``kind``."""
    state = unwrap_state_dict(torch.load(src, map_location='cpu', weights_only=True), src)
    arch = encoder_arch(state, src)
    converted, unknown = convert(state)
    if unknown:
        raise KeyError(f'{src}: {len(unknown)} keys not from {kind}, e.g. {unknown[:5]}')
    meta = dict(arch=arch, source=str(src), converter=convert.__name__)
    atomic_torch_save(dict(state_dict=converted, meta=meta), dst)
    return dict(meta, state=state, num_tensors=len(converted))
