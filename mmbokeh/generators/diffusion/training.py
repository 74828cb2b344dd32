"""Training of the bokeh adapter (base FLUX.1-Kontext frozen), as the official ``train_flux_I2I.py`` I2I path.

One step: the sharp image (reference) and its bokeh render at strength K (target) are VAE-encoded; the target
latents are noised on the rectified-flow path ``z = (1 - sigma) x + sigma n``; the packed noisy tokens followed by
the reference tokens (image id 1, the Kontext convention) go through the transformer conditioned on K (``K / 30``)
and a caption; the loss is the mean squared error of the predicted velocity on the target tokens against
``n - x``. Only the adapter receives gradients.
"""
import copy
import math
import os
import os.path as osp
import random
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from .adapter import BokehFluxAdapter
from .loading import freeze_base, install_adapter, load_kontext_pipeline, vae_multiple
from .prompts import K_MAX, K_MIN, OFFICIAL_TRAINING_TEMPLATES, training_prompt


def center_crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Centre-crop [B, C, H, W] so that H and W are multiples of ``multiple`` (the official floor-crop)."""
    h, w = x.shape[-2:]
    nh, nw = h // multiple * multiple, w // multiple * multiple
    if nh == 0 or nw == 0:
        raise ValueError(f'images of {h}x{w} are smaller than the VAE multiple {multiple}')
    top, left = (h - nh) // 2, (w - nw) // 2
    return x[..., top:top + nh, left:left + nw]


def encode_latents(vae, images: torch.Tensor) -> torch.Tensor:
    """VAE latents ``(z - shift) * scale`` of images [B, 3, H, W] in [-1, 1] (sampled, as the official trainer)."""
    with torch.no_grad():
        latents = vae.encode(images.to(vae.device, vae.dtype)).latent_dist.sample()
    shift = vae.config.shift_factor or 0.0
    return (latents - shift) * vae.config.scaling_factor


def flow_matching_loss(pipe, adapter: BokehFluxAdapter, reference: torch.Tensor, target: torch.Tensor,
                       k: torch.Tensor, prompts: Sequence[str], scheduler=None, guidance_scale: float = 1.0,
                       weighting_scheme: str = 'none', max_sequence_length: int = 512) -> torch.Tensor:
    """The adapter's training loss for one batch.

    Args:
        pipe: a ``FluxKontextPipeline`` with the adapter installed.
        reference, target: [B, 3, H, W] in [-1, 1] (RGB), H and W multiples of ``vae_multiple(pipe)``.
        k: [B] bokeh strengths of the targets (pixels x metres, K in [1, 30] officially).
        prompts: B captions.
        scheduler: the training noise scheduler (a fresh copy of ``pipe.scheduler`` when None).
        guidance_scale: value of FLUX's guidance embedding (official 1.0).
        weighting_scheme: diffusers' SD3 timestep density / loss weighting ('none' = uniform, as official).
    """
    from diffusers import FluxKontextPipeline
    from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

    transformer, device, dtype = pipe.transformer, pipe.transformer.device, pipe.transformer.dtype
    scheduler = scheduler or pipe.scheduler.__class__.from_config(pipe.scheduler.config)
    latents = encode_latents(pipe.vae, target).to(device, dtype)
    ref_latents = encode_latents(pipe.vae, reference).to(device, dtype)
    b, c, h, w = latents.shape
    noise = torch.randn_like(latents)
    u = compute_density_for_timestep_sampling(weighting_scheme, batch_size=b, logit_mean=0.0, logit_std=1.0,
                                              mode_scale=1.29)
    idx = (u * scheduler.config.num_train_timesteps).long().clamp(max=len(scheduler.timesteps) - 1)
    timesteps = scheduler.timesteps[idx].to(device)
    sigmas = scheduler.sigmas[idx].to(device, dtype).view(b, 1, 1, 1)
    noisy = (1.0 - sigmas) * latents + sigmas * noise

    tokens = FluxKontextPipeline._pack_latents(noisy, b, c, h, w)
    ids = FluxKontextPipeline._prepare_latent_image_ids(b, h // 2, w // 2, device, dtype)
    ref_tokens = FluxKontextPipeline._pack_latents(ref_latents, b, c, *ref_latents.shape[-2:])
    ref_ids = FluxKontextPipeline._prepare_latent_image_ids(b, ref_latents.shape[-2] // 2,
                                                            ref_latents.shape[-1] // 2, device, dtype)
    ref_ids[..., 0] = 1
    with torch.no_grad():
        prompt_embeds, pooled, text_ids = pipe.encode_prompt(prompt=list(prompts), prompt_2=None, device=device,
                                                             max_sequence_length=max_sequence_length)
    guidance = (torch.full((b, ), guidance_scale, device=device, dtype=torch.float32)
                if transformer.config.guidance_embeds else None)
    pred = transformer(hidden_states=torch.cat([tokens, ref_tokens], dim=1), timestep=timesteps / 1000,
                       guidance=guidance, pooled_projections=pooled.to(dtype),
                       encoder_hidden_states=prompt_embeds.to(dtype), txt_ids=text_ids,
                       img_ids=torch.cat([ids, ref_ids], dim=0),
                       joint_attention_kwargs=adapter.attention_kwargs(k, clamp=False), return_dict=False)[0]
    scale = pipe.vae_scale_factor
    pred = FluxKontextPipeline._unpack_latents(pred[:, :tokens.shape[1]], h * scale, w * scale, scale)
    weighting = compute_loss_weighting_for_sd3(weighting_scheme, sigmas)
    err = (pred.float() - (noise - latents).float())**2
    return (weighting.float() * err).reshape(b, -1).mean(1).mean()


def batch_to_pairs(data: Dict, multiple: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(reference, target, k) from a collated mmbokeh batch whose samples carry a one-frame ``bokeh_stack``.

    ``inputs`` are [3, H, W] BGR in [0, 255] (``PackDepthInputs``); outputs are RGB in [-1, 1], centre-cropped to
    multiples of ``multiple``; k [B] is each sample's first stack frame's K.
    """
    if not data['data_samples'] or 'bokeh_stack' not in data['data_samples'][0]:
        raise KeyError('adapter training needs samples with a bokeh_stack: put BokehStackGenerator('
                       "backend='physical', k_range=(1, 30), num_k=1, random_k=True) in the train pipeline")

    def rgb(x: torch.Tensor) -> torch.Tensor:
        return x.float().flip(-3) / 127.5 - 1.0

    ref = rgb(torch.stack(list(data['inputs'])))
    tgt = rgb(torch.stack([s.bokeh_stack[0] for s in data['data_samples']]))
    k = torch.stack([s.bokeh_k[0] for s in data['data_samples']]).float()
    return center_crop_to_multiple(ref, multiple), center_crop_to_multiple(tgt, multiple), k


def _lr_lambda(warmup: int, total: int, schedule: str):
    def fn(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == 'cosine':
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
        return 1.0

    return fn


def train_adapter(cfg, work_dir: str, logger=None) -> Dict:
    """Train the adapter as configured (see ``configs/bokeh_generator/flux_kontext_adapter.py``).

    Writes ``<work_dir>/bokeh_lora_iter_<n>.safetensors`` every ``save_interval`` iterations and the final weights
    as ``<work_dir>/bokeh_lora.bin`` (official key names). Returns ``dict(losses, adapter, pipe)``.
    """
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    init_default_scope('mmbokeh')
    os.makedirs(work_dir, exist_ok=True)
    logger = logger or MMLogger.get_instance('mmbokeh_adapter', log_level='INFO')
    seed = int(cfg.get('seed', 0))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pipe = load_kontext_pipeline(cfg.pretrained, cfg.get('dtype', 'bfloat16'), cfg.get('device'))
    freeze_base(pipe)
    adapter = install_adapter(pipe, cfg.get('adapter'), cfg.get('adapter_init')).train()
    if cfg.get('gradient_checkpointing', False):
        pipe.transformer.enable_gradient_checkpointing()
    params = [p for p in adapter.parameters() if p.requires_grad]
    opt_cfg = dict(cfg.get('optimizer', dict(lr=1e-4, weight_decay=0.01)))
    opt_cfg.pop('type', None)
    optimizer = torch.optim.AdamW(params, **opt_cfg)
    max_iters = int(cfg.max_iters)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(int(cfg.get('warmup_iters', 0)), max_iters, cfg.get('lr_schedule', 'constant')))
    loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=seed)
    noise_scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config)
    templates = cfg.get('prompt_templates', OFFICIAL_TRAINING_TEMPLATES)
    caption_rng = random.Random(seed)
    multiple, grad_clip = vae_multiple(pipe), cfg.get('grad_clip', 1.0)
    losses: List[float] = []
    it, t0 = 0, time.time()
    while it < max_iters:
        for data in loader:
            ref, tgt, k = batch_to_pairs(data, multiple)
            if torch.any((k < K_MIN) | (k > K_MAX)):
                logger.warning(f'training K {k.tolist()} outside the official range [{K_MIN}, {K_MAX}]')
            prompts = [training_prompt(float(v), caption_rng, templates) for v in k]
            loss = flow_matching_loss(pipe, adapter, ref, tgt, k, prompts, noise_scheduler,
                                      cfg.get('guidance_scale', 1.0), cfg.get('weighting_scheme', 'none'),
                                      cfg.get('max_sequence_length', 512))
            if not torch.isfinite(loss):
                raise FloatingPointError(f'adapter training loss is {loss.item()} at iteration {it + 1}')
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            sched.step()
            it += 1
            losses.append(float(loss.detach()))
            if it % int(cfg.get('log_interval', 10)) == 0 or it == max_iters:
                logger.info(f'iter {it}/{max_iters} loss {losses[-1]:.5f} lr {sched.get_last_lr()[0]:.2e} '
                            f'{(time.time() - t0) / it:.2f} s/iter')
            if cfg.get('save_interval') and it % int(cfg.save_interval) == 0 and it < max_iters:
                adapter.save_weights(osp.join(work_dir, f'bokeh_lora_iter_{it}.safetensors'))
            if it >= max_iters:
                break
    adapter.save_weights(osp.join(work_dir, 'bokeh_lora.bin'))
    return dict(losses=losses, adapter=adapter, pipe=pipe)


__all__ = ['flow_matching_loss', 'train_adapter', 'batch_to_pairs', 'center_crop_to_multiple', 'encode_latents']
