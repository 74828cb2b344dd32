"""Independent functional re-statement of official BokehDepth ``UniDepthV2DSFA.encode_decode`` on official keys.

Written from ``UniDepth/unidepth/models/unidepthv2/unidepthv2_DSFA.py`` (encode_decode), ``encoder_DSFA.py``
(``DSFADinov2Encoder``), ``backbones/dinov2.py`` (``DinoVisionTransformer``: size-based bicubic position embedding
without antialias, final LayerNorm eps 1e-5 on every block output, class token per block),
``unidepthv2/decoder.py`` (``Decoder``, ``CameraHead``, ``DepthHead``), ``layers/{attention,mlp,upsample}.py``,
``utils/{positional_embedding,geometric,coordinate,camera}.py``. It reads an official-layout state dict
(``pixel_encoder.backbone.*``, ``pixel_encoder.fusion_blocks.{s}.*``, ``pixel_decoder.*``) and follows the official
order of operations, dead computations that cannot change the output left out (``pos_embed`` / ``level_embeds``,
the discarded interpolations of ``depth_proj``).
"""
import math

import torch
import torch.nn.functional as F

from .official_dav2 import _block
from .official_dsfa import official_dsfa_block

ENC = 'pixel_encoder.backbone.'
DEC = 'pixel_decoder.'


def _lin(x, sd, p):
    return F.linear(x, sd[p + '.weight'], sd.get(p + '.bias'))


def _ln(x, sd, p, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[p + '.weight'], sd[p + '.bias'], eps)


def official_encoder(sd, x, taps, heads):
    """``DinoVisionTransformer.forward`` with ``use_norm``: normed patch maps [B, h, w, C] and class tokens [B, 1, C]
    of the (1-based) ``taps`` blocks."""
    B, _, H, W = x.shape
    h, w = H // 14, W // 14
    t = F.conv2d(x, sd[ENC + 'patch_embed.proj.weight'], sd[ENC + 'patch_embed.proj.bias'], stride=14)
    t = torch.cat([sd[ENC + 'cls_token'].expand(B, -1, -1), t.flatten(2).transpose(1, 2)], 1)
    pos = sd[ENC + 'pos_embed']
    n = pos.shape[1] - 1
    if not (n == h * w and H == W):
        m = int(math.sqrt(n))
        patch = pos[:, 1:].float().reshape(1, m, m, -1).permute(0, 3, 1, 2)
        patch = F.interpolate(patch, size=(h, w), mode='bicubic', antialias=False)
        pos = torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, h * w, -1)], 1)
    t = t + pos
    maps, cls = [], []
    for i in range(max(taps)):
        t = _block(t, sd, f'{ENC}blocks.{i}.', heads)
        if i + 1 in taps:
            normed = _ln(t, sd, ENC + 'norm', 1e-5)
            cls.append(normed[:, :1])
            maps.append(normed[:, 1:].reshape(B, h, w, -1))
    return maps, cls


def official_pixel_encoder(sd, x, stack, k, taps, heads, dsfa_heads=8):
    """``DSFADinov2Encoder.forward``: ref maps fused per stage with the stack's (batched) maps; ref class tokens."""
    maps, cls = official_encoder(sd, x, taps, heads)
    stages = sorted({int(key.split('.')[2]) for key in sd if key.startswith('pixel_encoder.fusion_blocks.')})
    if stack is None or not stages:
        return maps, cls
    B, S = stack.shape[:2]
    stack_maps, _ = official_encoder(sd, stack.reshape(B * S, *stack.shape[2:]), taps, heads)
    k = torch.zeros(B, S) if k is None else k
    fused = list(maps)
    for s in stages:
        p = f'pixel_encoder.fusion_blocks.{s}'
        # The UniDepth DSFA block is DAv2's with ``focus_film`` a plain Linear (encoder_DSFA.py:276-431).
        view = {key.replace(p + '.focus_film.', p + '.focus_film.0.'): v for key, v in sd.items() if key.startswith(p)}
        _, h, w, C = maps[s].shape
        ref = maps[s].reshape(B, h * w, C)
        st = stack_maps[s].reshape(B, S, h * w, C)
        fused[s] = official_dsfa_block(view, p, ref, st, k, heads=dsfa_heads).reshape(B, h, w, C)
    return fused, cls


def _mlp(x, sd, p):
    return _lin(F.gelu(_lin(_ln(x, sd, p + '.norm'), sd, p + '.proj1')), sd, p + '.proj2')


def _attention_block(x, sd, p, heads, context=None, pos_embed=None, layer_scale=True):
    """``AttentionBlock.forward`` (pre-norm q and context, einops head split, SDPA, out; MLP)."""
    context = x if context is None else context
    B, N, D = x.shape
    xn, cn = _ln(x, sd, p + '.norm_attnx'), _ln(context, sd, p + '.norm_attnctx')
    kv = _lin(cn, sd, p + '.kv').reshape(B, cn.shape[1], 2, heads, D // heads)  # "b n (kv h d)"
    k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
    q = _lin(xn, sd, p + '.q').reshape(B, N, heads, D // heads).transpose(1, 2)
    if pos_embed is not None:
        q = q + pos_embed.reshape(pos_embed.shape[0], N, heads, D // heads).transpose(1, 2)
    a = _lin(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, N, D), sd, p + '.out')
    x = x + (sd[p + '.ls1.gamma'] * a if layer_scale else a)
    m = _mlp(x, sd, p + '.mlp')
    return x + (sd[p + '.ls2.gamma'] * m if layer_scale else m)


def _coords(H, W):
    xs = torch.linspace(0.5, W - 0.5, W)
    ys = torch.linspace(0.5, H - 0.5, H)
    return torch.stack([xs.repeat(H, 1), ys.repeat(W, 1).t(), torch.ones(H, W)])  # [3, H, W]


def official_camera(sd, cls, H, W, heads):
    """``CameraHead`` on the adapted class tokens -> (intrinsics K [B, 3, 3], predicted rays [B, 3, H, W])."""
    tokens = torch.cat([_lin(c, sd, f'{DEC}camera_token_adapter.input_adapters.{i}') for i, c in enumerate(cls)], 1)
    p = DEC + 'camera_layer.'
    tokens = _mlp(tokens, sd, p + 'project')
    pos = sd[p + 'latents_pos'].expand(tokens.shape[0], -1, -1)
    tokens = _attention_block(tokens, sd, p + 'aggregate1', heads, pos_embed=pos)
    tokens = _attention_block(tokens, sd, p + 'aggregate2', heads, pos_embed=pos)
    t = _mlp(tokens, sd, p + 'out_pinhole').squeeze(-1)
    diag = (H ** 2 + W ** 2) ** 0.5
    fx, fy = torch.exp(t[:, 0]) * 0.7 * diag, torch.exp(t[:, 1]) * 0.7 * diag
    cx, cy = torch.sigmoid(t[:, 2]) * W, torch.sigmoid(t[:, 3]) * H
    B = t.shape[0]
    K = torch.eye(3).repeat(B, 1, 1)
    K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2] = fx, fy, cx, cy
    K_inv = torch.eye(3).repeat(B, 1, 1)
    K_inv[:, 0, 0], K_inv[:, 1, 1] = 1.0 / fx, 1.0 / fy
    K_inv[:, 0, 2], K_inv[:, 1, 2] = -cx / fx, -cy / fy
    rays = (K_inv @ _coords(H, W).reshape(1, 3, -1)).reshape(B, 3, H, W)
    return K, rays / rays.norm(dim=1, keepdim=True).clamp(min=1e-5)


def official_gt_rays(K, H, W):
    """``Camera.get_rays`` of a pinhole K [B, 3, 3]: ``torch.inverse``, divide by z, unit length."""
    uv = _coords(H, W)[:2].reshape(1, 2, -1)
    uvh = torch.cat([uv, torch.ones(1, 1, H * W)], 1)
    xyz = torch.inverse(K.float()) @ uvh
    xyz = (xyz / xyz[:, -1:].clip(min=1e-4)).reshape(K.shape[0], 3, H, W)
    return xyz / xyz.norm(dim=1, keepdim=True).clamp(min=1e-4)


def _embed_rays(rays_flat, H, W, h, w, dim):
    r = rays_flat
    if (H, W) != (h, w):
        t = r.view(r.shape[0], H, W, -1).permute(0, 3, 1, 2)
        t = F.interpolate(t, size=(h, w), mode='bilinear', align_corners=False, antialias=True)
        r = t.view(r.shape[0], -1, h * w).permute(0, 2, 1)
    r = r / torch.norm(r, dim=-1, keepdim=True).clip(min=1e-4)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    polar = torch.acos(z)
    x_clipped = x.abs().clip(min=1e-3) * (2 * (x >= 0).int() - 1)
    ang = torch.stack([polar, torch.atan2(y, x_clipped)], -1)
    bands = dim // 2
    scales = 2.0 ** torch.linspace(0.0, math.log2(max(h, w) // 2), steps=bands)
    return (ang.unsqueeze(-1) * scales * math.pi).sin().flatten(-2)


def _rcu(x, sd, p):
    out = F.conv2d(F.leaky_relu(x), sd[p + '.conv1.weight'], sd[p + '.conv1.bias'], padding=1)
    out = F.conv2d(F.leaky_relu(out), sd[p + '.conv2.weight'], sd[p + '.conv2.bias'], padding=1)
    return sd[p + '.gamma'] * out + x


def _reflect_conv(x, sd, p):
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), sd[p + '.weight'], sd[p + '.bias'])


def _proj(x, sd, mlp, lr, hr, H, W):
    x = _lin(_ln(x.permute(0, 2, 3, 1), sd, mlp + '.0'), sd, mlp + '.1').permute(0, 3, 1, 2)
    x = F.interpolate(_reflect_conv(x, sd, lr), size=(H, W), mode='bilinear', align_corners=True)
    x = F.leaky_relu(_reflect_conv(x, sd, hr + '.0'))
    return F.conv2d(x, sd[hr + '.2.weight'], sd[hr + '.2.bias'])


def official_forward(sd, x, stack=None, k=None, camera=None, taps=(6, 12, 18, 24), heads=16, dec_heads=8):
    """``encode_decode`` of normalised x [B, 3, H, W] (stack [B, S, 3, H, W], k [B, S], camera K [B, 3, 3] in
    UniDepth's pixel convention) -> dict(depth [B, 1, H, W] (z), confidence, intrinsics [B, 3, 3], rays)."""
    B, _, H, W = x.shape
    maps, cls = official_pixel_encoder(sd, x, stack, k, taps, heads)
    h, w = maps[0].shape[1:3]
    feats = [_lin(f, sd, f'{DEC}input_adapter.input_adapters.{i}') for i, f in enumerate(maps)]
    K, rays = official_camera(sd, cls, H, W, dec_heads)
    if camera is not None:
        rays = official_gt_rays(camera, H, W)
    rays_flat = rays.permute(0, 2, 3, 1).reshape(B, H * W, 3)  # "b c h w -> b (h w) c"
    hidden = feats[0].shape[-1]
    emb = _embed_rays(rays_flat, H, W, h, w, hidden)
    p = DEC + 'depth_layer.'
    cond = [_attention_block(f.reshape(B, h * w, -1), sd, f'{p}prompt_camera.{i}.layers.0', dec_heads, context=emb,
                             layer_scale=False) for i, f in enumerate(feats)]
    latents = _lin(cond[0], sd, p + 'to_latents').reshape(B, h, w, -1).permute(0, 3, 1, 2)
    cond = [c.reshape(B, h, w, -1).permute(0, 3, 1, 2) for c in cond]
    n_stages = len({key.split('.')[3] for key in sd if key.startswith(p + 'ups.')})
    for i in range(n_stages):
        s = max(1, 2 * i)
        pf = f'{p}process_features.{i}'
        latents = latents + F.conv_transpose2d(cond[i + 1], sd[pf + '.weight'], sd[pf + '.bias'], stride=s)
        j = 0
        while f'{p}ups.{i}.convs.{j}.gamma' in sd:
            latents = _rcu(latents, sd, f'{p}ups.{i}.convs.{j}')
            j += 1
        latents = F.conv2d(latents, sd[f'{p}ups.{i}.up.0.weight'], sd[f'{p}ups.{i}.up.0.bias'])
        latents = F.interpolate(latents, scale_factor=2, mode='bilinear', align_corners=False)
    logdepth = _proj(latents, sd, f'{p}depth_mlp.{n_stages - 1}', p + 'to_depth_lr', p + 'to_depth_hr', H, W)
    logconf = _proj(latents, sd, p + 'confidence_mlp', p + 'to_confidence_lr', p + 'to_confidence_hr', H, W)
    radius = torch.exp(logdepth.clip(min=-8.0, max=8.0) + 2.0)
    points = rays * radius
    return dict(depth=points[:, -1:], confidence=torch.exp(logconf.clip(min=-8.0, max=8.0)), intrinsics=K,
                rays=rays)


def official_paddings(original_shape, aspect_ratio_range=(0.5, 2.5)):
    """``get_paddings``: ((left, right, top, bottom), (H_new, W_new))."""
    H, W = original_shape
    ratio = W / H
    target = min(aspect_ratio_range[1], max(aspect_ratio_range[0], ratio))
    if ratio > target:
        H_new = int(W / target)
        top = (H_new - H) // 2
        return (0, 0, top, H_new - H - top), (H_new, W)
    W_new = int(H * target)
    left = (W_new - W) // 2
    return (left, W_new - W - left, 0, 0), (H, W_new)


def official_resize_factor(original_shape, pixels_range=(200000, 600000), shape_multiplier=14):
    """``get_resize_factor``: (factor, (H_new, W_new))."""
    H, W = original_shape
    target = min(pixels_range[1], max(pixels_range[0], W * H))
    f = (target / (W * H)) ** 0.5
    return f, (math.ceil(int(H * f) / shape_multiplier) * shape_multiplier,
               math.ceil(int(W * f) / shape_multiplier) * shape_multiplier)


def official_key(key: str) -> str:
    """mmbokeh key -> official UniDepthV2-DSFA key (the inverse of mmbokeh's converter, written out independently
    for tests)."""
    pairs = [('backbone.vit.', 'pixel_encoder.backbone.'), ('neck.layers.', 'pixel_encoder.fusion_blocks.'),
             ('decode_head.camera_head.token_adapters.', 'pixel_decoder.camera_token_adapter.input_adapters.'),
             ('decode_head.camera_head.', 'pixel_decoder.camera_layer.'),
             ('decode_head.depth_decoder.input_adapters.', 'pixel_decoder.input_adapter.input_adapters.'),
             ('decode_head.depth_decoder.depth_mlp.', 'pixel_decoder.depth_layer.depth_mlp.2.'),
             ('decode_head.depth_decoder.', 'pixel_decoder.depth_layer.')]
    for src, dst in pairs:
        if key.startswith(src):
            key = dst + key[len(src):]
            break
    if key.startswith('pixel_encoder.fusion_blocks.'):
        return key.replace('.focus_film.0.', '.focus_film.')
    if key.startswith('pixel_decoder.depth_layer.prompt_camera.'):
        parts = key.split('.')
        return '.'.join(parts[:4] + ['layers', '0'] + parts[4:])
    return key


def random_official_state(state_dict: dict, seed: int = 0) -> dict:
    """Random weights in the official layout, keyed from an mmbokeh ``UniDepthV2`` state dict. Every tensor is
    randomised (gammas, norms and latents included) so that no mapping error hides behind an init value; the
    official tensors mmbokeh drops are added."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in state_dict.items():
        noise = torch.randn(value.shape, generator=gen)
        last = key.split('.')[-1]
        if last == 'gamma' or ('norm' in key or '.ln_' in key or 'mlp.0' in key) and last == 'weight':
            value = 1.0 + 0.1 * noise  # LayerScales, LayerNorm weights
        elif key.endswith('pos_embed') or key.endswith('cls_token') or 'latents_pos' in key:
            value = 0.5 * noise
        else:
            value = 0.05 * noise
        state[official_key(key)] = value
    width = state['pixel_encoder.backbone.cls_token'].shape[-1]
    hidden = state['pixel_decoder.depth_layer.to_latents.weight'].shape[0]
    state['pixel_encoder.backbone.register_tokens'] = torch.zeros(1, 1, width)
    state['pixel_encoder.backbone.mask_token'] = torch.zeros(1, width)
    state['pixel_decoder.level_embeds'] = torch.randn(1, 1, 4, hidden, generator=gen)
    return state
