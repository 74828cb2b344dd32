"""Independent functional re-statement of the official Depth Anything V2 forward, on official key names.

It reads an official-layout state dict (``pretrained.*``, ``depth_head.*``) and follows the official code path:
DINOv2 ``prepare_tokens_with_masks`` / ``interpolate_pos_encoding`` (bicubic, scale factor with +0.1 offset, no
antialias), ``get_intermediate_layers(norm=True)``, and the DPT head. Tests use it as the oracle for the converter.
"""
import math

import torch
import torch.nn.functional as F

HEADS = {384: 6, 768: 12, 1024: 16}
TAPS = {384: [2, 5, 8, 11], 768: [2, 5, 8, 11], 1024: [4, 11, 17, 23]}


def _pos_embed(pos, h0, w0):
    n = pos.shape[1] - 1
    if n == h0 * w0 and h0 == w0:
        return pos
    m = int(math.sqrt(n))
    patch = pos[:, 1:].float().reshape(1, m, m, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, scale_factor=(float(h0 + 0.1) / m, float(w0 + 0.1) / m), mode='bicubic',
                          antialias=False)
    patch = patch.permute(0, 2, 3, 1).reshape(1, h0 * w0, -1)
    return torch.cat([pos[:, :1], patch], 1)


def _block(x, sd, p, heads):
    B, N, C = x.shape
    y = F.layer_norm(x, (C, ), sd[p + 'norm1.weight'], sd[p + 'norm1.bias'], 1e-6)
    qkv = F.linear(y, sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias']).reshape(B, N, 3, heads, C // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    attn = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    y = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
    y = F.linear(y, sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
    x = x + sd[p + 'ls1.gamma'] * y
    y = F.layer_norm(x, (C, ), sd[p + 'norm2.weight'], sd[p + 'norm2.bias'], 1e-6)
    y = F.linear(F.gelu(F.linear(y, sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])), sd[p + 'mlp.fc2.weight'],
                 sd[p + 'mlp.fc2.bias'])
    return x + sd[p + 'ls2.gamma'] * y


def _conv(x, sd, p, **kw):
    return F.conv2d(x, sd[p + '.weight'], sd.get(p + '.bias'), **kw)


def _rcu(x, sd, p):
    out = _conv(F.relu(x), sd, p + '.conv1', padding=1)
    return _conv(F.relu(out), sd, p + '.conv2', padding=1) + x


def _fusion(sd, p, x0, x1=None, size=None):
    out = x0 if x1 is None else x0 + _rcu(x1, sd, p + '.resConfUnit1')
    out = _rcu(out, sd, p + '.resConfUnit2')
    mod = {'scale_factor': 2} if size is None else {'size': size}
    out = F.interpolate(out, **mod, mode='bilinear', align_corners=True)
    return _conv(out, sd, p + '.out_conv')


def official_encoder(sd, x):
    """``get_intermediate_layers(x, taps, return_class_token=True)``'s patch tokens: list of [B, N, C]."""
    B, _, H, W = x.shape
    ph, pw = H // 14, W // 14
    C = sd['pretrained.cls_token'].shape[-1]
    t = F.conv2d(x, sd['pretrained.patch_embed.proj.weight'], sd['pretrained.patch_embed.proj.bias'], stride=14)
    t = t.flatten(2).transpose(1, 2)
    t = torch.cat([sd['pretrained.cls_token'].expand(B, -1, -1), t], 1)
    t = t + _pos_embed(sd['pretrained.pos_embed'], ph, pw)
    feats = []
    for i in range(max(TAPS[C]) + 1):
        t = _block(t, sd, f'pretrained.blocks.{i}.', HEADS[C])
        if i in TAPS[C]:
            feats.append(F.layer_norm(t, (C, ), sd['pretrained.norm.weight'], sd['pretrained.norm.bias'], 1e-6)[:, 1:])
    return feats


def official_head(sd, feats, ph, pw, max_depth=20.0, metric=True):
    """DPTHead.forward on patch tokens, times max_depth (metric) -> [B, H, W]."""
    B, _, C = feats[0].shape
    outs = []
    for i, f in enumerate(feats):
        f = f.permute(0, 2, 1).reshape(B, C, ph, pw)
        f = _conv(f, sd, f'depth_head.projects.{i}')
        p = f'depth_head.resize_layers.{i}'
        if i == 0:
            f = F.conv_transpose2d(f, sd[p + '.weight'], sd[p + '.bias'], stride=4)
        elif i == 1:
            f = F.conv_transpose2d(f, sd[p + '.weight'], sd[p + '.bias'], stride=2)
        elif i == 3:
            f = _conv(f, sd, p, stride=2, padding=1)
        outs.append(_conv(f, sd, f'depth_head.scratch.layer{i + 1}_rn', padding=1))
    l1, l2, l3, l4 = outs
    s = 'depth_head.scratch.'
    path = _fusion(sd, s + 'refinenet4', l4, size=l3.shape[2:])
    path = _fusion(sd, s + 'refinenet3', path, l3, size=l2.shape[2:])
    path = _fusion(sd, s + 'refinenet2', path, l2, size=l1.shape[2:])
    path = _fusion(sd, s + 'refinenet1', path, l1)
    out = _conv(path, sd, s + 'output_conv1', padding=1)
    out = F.interpolate(out, (ph * 14, pw * 14), mode='bilinear', align_corners=True)
    out = F.relu(_conv(out, sd, s + 'output_conv2.0', padding=1))
    out = _conv(out, sd, s + 'output_conv2.2')
    out = torch.sigmoid(out) * max_depth if metric else F.relu(out)
    return out.squeeze(1)


def official_forward(sd, x, max_depth=20.0, metric=True):
    """x [B, 3, H, W] normalised -> depth [B, H, W], as ``DepthAnythingV2.forward``."""
    return official_head(sd, official_encoder(sd, x), x.shape[-2] // 14, x.shape[-1] // 14, max_depth, metric)
