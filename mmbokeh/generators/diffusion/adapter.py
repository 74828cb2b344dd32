"""BokehFluxAdapter: the official BokehDepth Stage-1 adapter for a diffusers ``FluxTransformer2DModel``.

Its state dict has exactly the official ``bokeh_lora.bin`` key names::

    embedding_layer.0.weight [64, 1]   embedding_layer.0.bias   (K / 30 -> 64, ReLU)
    embedding_layer.2.weight [C, 64]   embedding_layer.2.bias   (64 -> context width C, 768 officially)
    adapter_modules.{i}.to_k_dof.{down,up}.weight   adapter_modules.{i}.to_v_dof.{down,up}.weight
    adapter_modules.{i}.to_q_adp.{down,up}.weight   adapter_modules.{i}.to_k_adp.{down,up}.weight

with ``i`` the position of the attention layer among the transformer's processors (19 double-stream then 38
single-stream blocks for FLUX.1; blocks outside ``block_ids`` keep their index but have no parameters).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn

from mmbokeh.utils.io import atomic_path

from .attention import BokehFluxAttnProcessor
from .prompts import normalize_k

BlockIds = Union[None, str, Sequence[int]]


def parse_block_ids(spec: BlockIds, num_blocks: int) -> List[int]:
    """Block indices from None (all), a string like ``'0-56'`` / ``'0-18,30'`` (official syntax) or a list."""
    if spec is None:
        return list(range(num_blocks))
    if isinstance(spec, str):
        ids: List[int] = []
        for part in spec.split(','):
            lo, _, hi = part.strip().partition('-')
            ids.extend(range(int(lo), int(hi or lo) + 1))
    else:
        ids = [int(i) for i in spec]
    bad = [i for i in ids if not 0 <= i < num_blocks]
    if bad:
        raise ValueError(f'block_ids {bad} out of range: the transformer has {num_blocks} blocks (0-{num_blocks - 1})')
    return sorted(set(ids))


def _attention_module(transformer: nn.Module, processor_name: str) -> nn.Module:
    """The attention module owning processor ``<path>.processor``."""
    return transformer.get_submodule(processor_name.rsplit('.processor', 1)[0])


class BokehFluxAdapter(nn.Module):
    """K embedding + bokeh attention processors installed into a FLUX transformer (which stays outside this module).

    Args:
        transformer: diffusers ``FluxTransformer2DModel`` (its processors are replaced).
        block_ids: blocks that get the adapter, counted over double- then single-stream blocks (None: all; the
            official default ``'0-56'`` is all 57 blocks of FLUX.1).
        context_dim: width of the K embedding (official 768).
        embed_hidden: hidden width of the K MLP (official 64).
        lora_rank, lora_alpha: official 128 / 128.
        adapt_q, adapt_k: query / key LoRA adapters (official: both on).
        bokeh_scale, lora_scale: see :class:`BokehFluxAttnProcessor`.
    """

    def __init__(self, transformer: nn.Module, block_ids: BlockIds = None, context_dim: int = 768,
                 embed_hidden: int = 64, lora_rank: Optional[int] = 128, lora_alpha: Optional[float] = 128,
                 adapt_q: bool = True, adapt_k: bool = True, bokeh_scale: float = 1.0,
                 lora_scale: float = 1.0) -> None:
        super().__init__()
        self.embedding_layer = nn.Sequential(nn.Linear(1, embed_hidden), nn.ReLU(),
                                             nn.Linear(embed_hidden, context_dim))
        names = list(transformer.attn_processors.keys())
        blocks = [n.split('.attn')[0] for n in names]
        chosen = {blocks[i] for i in parse_block_ids(block_ids, len(blocks))}
        procs: Dict[str, BokehFluxAttnProcessor] = {}
        for name, block in zip(names, blocks):
            hidden = _attention_module(transformer, name).to_q.out_features if block in chosen else None
            procs[name] = BokehFluxAttnProcessor(hidden, context_dim, lora_rank, lora_alpha, adapt_q, adapt_k,
                                                 bokeh_scale, lora_scale)
        self.adapter_modules = nn.ModuleList(list(procs.values()))
        transformer.set_attn_processor(procs)  # (diffusers empties the dict)
        self.block_names = blocks

    def camera_embeds(self, k: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """K embedding [B, context_dim] of strengths k [B] (normalised as :func:`normalize_k`)."""
        first = self.embedding_layer[0].weight
        return self.embedding_layer(normalize_k(k, clamp).to(first.device, first.dtype))

    def attention_kwargs(self, k: torch.Tensor, clamp: bool = True) -> Dict[str, torch.Tensor]:
        """``joint_attention_kwargs`` that condition the transformer (and a ``FluxKontextPipeline``) on K [B]."""
        return dict(camera_embeds=self.camera_embeds(k, clamp))

    def load_weights(self, path: str) -> None:
        """Load an official ``bokeh_lora.bin`` / ``.safetensors`` (or a folder holding ``model.safetensors`` or
        ``pytorch_model.bin``); strict: every missing or unexpected key is an error naming the file."""
        path = resolve_weights(path)
        state = load_state_dict_file(path)
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        state = {f'adapter_modules.{k}' if k.split('.')[0].isdigit() else k: v for k, v in state.items()}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f'adapter weights {path} do not match this adapter: {len(missing)} missing keys '
                           f'{missing[:4]}, {len(unexpected)} unexpected keys {unexpected[:4]} (check block_ids, '
                           'lora_rank, context_dim, adapt_q/adapt_k against the checkpoint)')

    def save_weights(self, path: str) -> None:
        """Write the adapter state dict (official key names) atomically: ``.safetensors`` or a torch ``.bin``."""
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(path) as tmp:
            if str(path).endswith('.safetensors'):
                from safetensors.torch import save_file
                save_file(state, tmp)
            else:
                torch.save(state, tmp)


def resolve_weights(path: str) -> str:
    """A weights file, or the ``model.safetensors`` / ``pytorch_model.bin`` inside a folder."""
    if osp.isdir(path):
        for name in ('model.safetensors', 'pytorch_model.bin', 'bokeh_lora.bin'):
            if osp.isfile(osp.join(path, name)):
                return osp.join(path, name)
        raise FileNotFoundError(f'no model.safetensors, pytorch_model.bin or bokeh_lora.bin in {path}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'bokeh adapter weights not found: {path} (the official file is bokeh_lora.bin)')
    return path


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or a torch pickle (loaded with ``weights_only=True``)."""
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    state = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(state, dict):
        raise TypeError(f'{path} holds a {type(state).__name__}, expected a state dict')
    return state


__all__ = ['BokehFluxAdapter', 'parse_block_ids', 'resolve_weights', 'load_state_dict_file']
