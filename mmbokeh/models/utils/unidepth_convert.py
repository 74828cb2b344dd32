"""Key mapping from official UniDepthV2 / BokehDepth UniDepthV2-DSFA checkpoints to mmbokeh's ``UniDepthV2``.

Official layout (``UniDepth/unidepth/models/unidepthv2/unidepthv2_DSFA.py`` and ``encoder_DSFA.py``):
``pixel_encoder.backbone.*`` (DSFA release; upstream UniDepthV2 has ``pixel_encoder.*``), the DSFA blocks under
``pixel_encoder.fusion_blocks.{stage}.*`` (``focus_film`` a plain Linear) and the decoder under ``pixel_decoder.*``.
"""
import re
from typing import Dict, List, Tuple

import torch

from mmbokeh.utils.io import atomic_torch_save

from .ckpt_convert import WIDTH_TO_ARCH, unwrap_state_dict

#: Official tensors dropped on purpose: DINOv2's register tokens (``num_register_tokens=0``, never concatenated),
#: its masked-image-modelling token (unused for depth) and the decoder's ``level_embeds`` (computed into a
#: position embedding the decoder never reads).
DROPPED_SUFFIXES = ('register_tokens', 'mask_token', 'pixel_decoder.level_embeds')

#: (official prefix, mmbokeh prefix), first match wins.
PREFIXES: List[Tuple[str, str]] = [
    ('pixel_encoder.fusion_blocks.', 'neck.layers.'),
    ('pixel_encoder.backbone.', 'backbone.vit.'),
    ('pixel_encoder.', 'backbone.vit.'),  # upstream UniDepthV2 (no DSFA wrapper)
    ('pixel_decoder.input_adapter.input_adapters.', 'decode_head.depth_decoder.input_adapters.'),
    ('pixel_decoder.camera_token_adapter.input_adapters.', 'decode_head.camera_head.token_adapters.'),
    ('pixel_decoder.camera_layer.', 'decode_head.camera_head.'),
    ('pixel_decoder.depth_layer.', 'decode_head.depth_decoder.'),
]


def _rename(key: str, last_stage: int) -> str:
    for src, dst in PREFIXES:
        if key.startswith(src):
            key = dst + key[len(src):]
            break
    else:
        raise KeyError(key)
    if key.startswith('neck.layers.'):
        return key.replace('.focus_film.', '.focus_film.0.')
    key = re.sub(r'^(decode_head\.depth_decoder\.prompt_camera\.\d+\.)layers\.0\.', r'\1', key)
    return key.replace(f'decode_head.depth_decoder.depth_mlp.{last_stage}.', 'decode_head.depth_decoder.depth_mlp.')


def convert_unidepth(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Official keys -> mmbokeh keys. Returns (new state, dropped official keys, keys not recognised)."""
    stages = {int(m.group(1)) for k in state for m in [re.match(r'pixel_decoder\.depth_layer\.depth_mlp\.(\d+)\.', k)]
              if m}
    last_stage = max(stages, default=-1)
    out, dropped, unknown = {}, [], []
    for key, value in state.items():
        if key.endswith(DROPPED_SUFFIXES):
            dropped.append(key)
            continue
        try:
            out[_rename(key, last_stage)] = value
        except KeyError:
            unknown.append(key)
    return out, dropped, unknown


def fused_stages(state: Dict[str, torch.Tensor]) -> List[int]:
    """Encoder stages (taps) that carry a DSFA block in an official state dict."""
    return sorted({int(k.split('.')[2]) for k in state if k.startswith('pixel_encoder.fusion_blocks.')})


def unidepth_arch(state: Dict[str, torch.Tensor], src: str = 'checkpoint') -> str:
    """'s' / 'b' / 'l' from the encoder's class token width."""
    key = next((k for k in ('pixel_encoder.backbone.cls_token', 'pixel_encoder.cls_token') if k in state), None)
    if key is None:
        raise KeyError(f'{src}: no pixel_encoder(.backbone).cls_token; is this an official UniDepthV2 checkpoint? '
                       f'first keys: {list(state)[:5]}')
    width = state[key].shape[-1]
    if width not in WIDTH_TO_ARCH:
        raise ValueError(f'{src}: encoder width {width} not supported ({sorted(WIDTH_TO_ARCH)})')
    return WIDTH_TO_ARCH[width]


def load_official(path: str, use_ema: bool = False) -> Dict[str, torch.Tensor]:
    """Official state dict from ``path`` (plain, ``{'model': ...}`` or ``{'state_dict': ...}``, ``module.``
    stripped); with ``use_ema`` the list ``ckpt['ema']['shadow_params']`` (aligned with the state-dict order, as the
    official loader assumes) replaces the weights."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = unwrap_state_dict(ckpt, path)
    if use_ema:
        shadow = ckpt.get('ema', {}).get('shadow_params') if isinstance(ckpt, dict) else None
        if shadow is None:
            raise KeyError(f"{path}: --ema given but the checkpoint has no ['ema']['shadow_params']")
        if len(shadow) != len(state):
            raise ValueError(f'{path}: {len(shadow)} EMA tensors for {len(state)} weights')
        state = {k: s.to(v.dtype) for (k, v), s in zip(state.items(), shadow)}
    return state


def convert_unidepth_file(src: str, dst: str, use_ema: bool = False) -> dict:
    """Convert ``src`` and save ``dict(state_dict, meta)`` atomically to ``dst``; returns the meta plus
    ``num_tensors``, ``dropped`` and ``fused_stages``. Raises ``KeyError`` listing keys not from UniDepthV2."""
    state = load_official(src, use_ema)
    arch = unidepth_arch(state, src)
    converted, dropped, unknown = convert_unidepth(state)
    if unknown:
        raise KeyError(f'{src}: {len(unknown)} keys not from UniDepthV2, e.g. {unknown[:5]}')
    stages = fused_stages(state)
    meta = dict(arch=arch, source=str(src), converter='convert_unidepth', fused_stages=stages, ema=use_ema)
    atomic_torch_save(dict(state_dict=converted, meta=meta), dst)
    return dict(meta, num_tensors=len(converted), dropped=dropped)
