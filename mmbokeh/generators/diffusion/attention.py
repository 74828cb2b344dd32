"""FLUX attention processor with the BokehDepth bokeh adapter (K cross-attention + query/key LoRA)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .lora import LoRALinear


def _zero_linear(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


class BokehFluxAttnProcessor(nn.Module):
    """Joint (double-stream) or single-stream FLUX attention, plus the bokeh adapter when ``hidden_dim`` is set.

    The adapter (parameter names as the official ``BokehFluxAttnProcessor2_0``):

    - ``to_q_adp`` / ``to_k_adp``: ``q <- q + lora_scale * LoRA(q)`` and the same for k, on the image-stream
      projections before the heads are split;
    - ``to_k_dof`` / ``to_v_dof``: the K embedding ``camera_embeds`` [B, context_dim] (one token) is projected to keys
      and values; every query attends to it and ``bokeh_scale`` times that result is added to the attention output.

    With ``hidden_dim=None`` it has no parameters and computes plain FLUX attention (a block outside the adapter's
    blocks). ``camera_embeds`` reaches the processors through ``joint_attention_kwargs``.

    Args:
        hidden_dim: attention inner width (heads x head_dim) or None.
        context_dim: width of the K embedding.
        lora_rank, lora_alpha: LoRA rank / alpha of every adapter projection (None rank: full zero-initialised
            linear layers, the official fallback).
        adapt_q, adapt_k: add the query / key LoRA adapters.
        bokeh_scale, lora_scale: output scales of the K attention and of the q/k adapters.
    """

    def __init__(self, hidden_dim: Optional[int] = None, context_dim: int = 768, lora_rank: Optional[int] = 128,
                 lora_alpha: Optional[float] = 128, adapt_q: bool = True, adapt_k: bool = True,
                 bokeh_scale: float = 1.0, lora_scale: float = 1.0) -> None:
        super().__init__()
        self.bokeh_scale, self.lora_scale = bokeh_scale, lora_scale
        self.has_adapter = hidden_dim is not None
        if hidden_dim is None:
            return

        def proj(i: int, o: int) -> nn.Module:
            return LoRALinear(i, o, lora_rank, lora_alpha) if lora_rank is not None else _zero_linear(i, o)

        self.to_k_dof = proj(context_dim, hidden_dim)
        self.to_v_dof = proj(context_dim, hidden_dim)
        if adapt_q:
            self.to_q_adp = proj(hidden_dim, hidden_dim)
        if adapt_k:
            self.to_k_adp = proj(hidden_dim, hidden_dim)

    @staticmethod
    def _heads(x: torch.Tensor, batch: int, heads: int) -> torch.Tensor:
        """[B, L, heads * d] -> [B, heads, L, d]."""
        return x.view(batch, -1, heads, x.shape[-1] // heads).transpose(1, 2)

    def __call__(self,
                 attn: nn.Module,
                 hidden_states: torch.Tensor,
                 encoder_hidden_states: Optional[torch.Tensor] = None,
                 attention_mask: Optional[torch.Tensor] = None,
                 image_rotary_emb: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
                 camera_embeds: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        from diffusers.models.embeddings import apply_rotary_emb

        batch, heads = hidden_states.shape[0], attn.heads
        query, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        if hasattr(self, 'to_q_adp'):
            query = query + self.lora_scale * self.to_q_adp(query)
        if hasattr(self, 'to_k_adp'):
            key = key + self.lora_scale * self.to_k_adp(key)
        query, key, value = (self._heads(t, batch, heads) for t in (query, key, value))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if encoder_hidden_states is not None:
            eq, ek, ev = (self._heads(p(encoder_hidden_states), batch, heads)
                          for p in (attn.add_q_proj, attn.add_k_proj, attn.add_v_proj))
            if attn.norm_added_q is not None:
                eq = attn.norm_added_q(eq)
            if attn.norm_added_k is not None:
                ek = attn.norm_added_k(ek)
            query, key, value = (torch.cat([e, x], dim=2) for e, x in ((eq, query), (ek, key), (ev, value)))
        if image_rotary_emb is not None:
            query, key = apply_rotary_emb(query, image_rotary_emb), apply_rotary_emb(key, image_rotary_emb)
        mask = attention_mask if isinstance(attention_mask, torch.Tensor) else None
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
        out = out.transpose(1, 2).reshape(batch, -1, query.shape[1] * query.shape[-1]).to(query.dtype)
        if camera_embeds is not None and self.has_adapter:
            out = out + self.bokeh_scale * self._bokeh_attention(query, camera_embeds, batch, heads)
        if encoder_hidden_states is None:
            return out
        n_text = encoder_hidden_states.shape[1]
        enc, img = out[:, :n_text], out[:, n_text:]
        img = attn.to_out[1](attn.to_out[0](img))
        return img, attn.to_add_out(enc)

    def _bokeh_attention(self, query: torch.Tensor, camera_embeds: torch.Tensor, batch: int,
                         heads: int) -> torch.Tensor:
        """Attention of every query [B, heads, L, d] to the K tokens of ``camera_embeds`` -> [B, L, heads * d]."""
        if camera_embeds.shape[0] != batch:
            if camera_embeds.shape[0] != 1:
                raise ValueError(f'camera_embeds has batch {camera_embeds.shape[0]} but the attention batch is {batch}')
            camera_embeds = camera_embeds.expand(batch, *camera_embeds.shape[1:])
        k_dof = self._heads(self.to_k_dof(camera_embeds).to(query.dtype), batch, heads)
        v_dof = self._heads(self.to_v_dof(camera_embeds).to(query.dtype), batch, heads)
        out = F.scaled_dot_product_attention(query, k_dof, v_dof)
        return out.transpose(1, 2).reshape(batch, -1, heads * query.shape[-1])
