"""Independent functional re-statement of official BokehDepth ``DepthAnythingV2DSFA`` on official key names.

Follows the official code path, including its quirks: the space attention scales q by head_dim^-0.5 and then calls
scaled_dot_product_attention, which scales again; the focus attention (with its bias) scales once; every frame goes
through the encoder on its own; the K token and FiLM come from raw K values (reference frame K = 0).
"""
import torch
import torch.nn.functional as F

from .official_dav2 import official_encoder, official_head


def _ln(x, sd, p):
    return F.layer_norm(x, x.shape[-1:], sd[p + '.weight'], sd[p + '.bias'], 1e-5)


def _lin(x, sd, p):
    return F.linear(x, sd[p + '.weight'], sd[p + '.bias'])


def _msa(x, sd, p, heads, bias=None):
    B, L, D = x.shape
    q, k, v = _lin(x, sd, p + '.qkv').reshape(B, L, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
    q = q * (D // heads) ** -0.5
    if bias is None:
        out = F.scaled_dot_product_attention(q, k, v)  # scales q a second time, as the official code does
    else:
        out = ((q @ k.transpose(-2, -1)) + bias[:, None]).softmax(-1) @ v
    return _lin(out.transpose(1, 2).reshape(B, L, D), sd, p + '.out_proj')


def _mlp(x, sd, p):
    return _lin(F.gelu(_lin(x, sd, p + '.fc1')), sd, p + '.fc2')


def official_dsfa_block(sd, p, ref, stack, k_stack, heads=8):
    """ref [B, N, D], stack [B, S, N, D], k_stack [B, S] -> fused reference tokens [B, N, D]."""
    B, N, D = ref.shape
    x = torch.cat([ref[:, None], stack], 1)
    F_ = x.shape[1]
    kv = torch.cat([torch.zeros(B, 1), k_stack], 1)[..., None]
    ktok = _lin(F.relu(_lin(kv, sd, p + '.k_embed.0')), sd, p + '.k_embed.2')
    scale, shift = _lin(ktok, sd, p + '.focus_film.0').chunk(2, -1)
    seq = torch.cat([ktok.reshape(B * F_, 1, D), x.reshape(B * F_, N, D)], 1)
    seq = seq + sd[p + '.gamma_space_attn'] * _msa(_ln(seq, sd, p + '.ln_space_attn'), sd, p + '.space_attn', heads)
    seq = seq + sd[p + '.gamma_space_ffn'] * _mlp(_ln(seq, sd, p + '.ln_space_ffn'), sd, p + '.space_ffn')
    x = seq[:, 1:].reshape(B, F_, N, D)
    x = x * (1 + torch.tanh(scale)[:, :, None]) + shift[:, :, None]
    bias = -(kv[:, :, None] - kv[:, None, :]).abs().squeeze(-1)
    bias = bias[:, None].repeat(1, N, 1, 1).reshape(B * N, F_, F_)
    seq = x.permute(0, 2, 1, 3).reshape(B * N, F_, D)
    seq = seq + sd[p + '.gamma_focus_attn'] * _msa(_ln(seq, sd, p + '.ln_focus_attn'), sd, p + '.focus_attn', heads,
                                                     bias)
    seq = seq + sd[p + '.gamma_focus_ffn'] * _mlp(_ln(seq, sd, p + '.ln_focus_ffn'), sd, p + '.focus_ffn')
    return seq.reshape(B, N, F_, D)[:, :, 0]


def official_dsfa_forward(sd, x, stack, k_stack, fusion_layers=(2, 3), max_depth=20.0):
    """x [B, 3, H, W], stack [B, S, 3, H, W], k_stack [B, S] -> depth [B, H, W]."""
    feats = official_encoder(sd, x)
    frames = [official_encoder(sd, stack[:, i]) for i in range(stack.shape[1])]
    fused = []
    for j, f in enumerate(feats):
        if j in fusion_layers:
            st = torch.stack([fr[j] for fr in frames], 1)
            f = official_dsfa_block(sd, f'encoder_fusion.layers.{j}.block', f, st, k_stack)
        fused.append(f)
    return official_head(sd, fused, x.shape[-2] // 14, x.shape[-1] // 14, max_depth)
