"""The bokeh adapter's training objective (base FLUX.1-Kontext frozen), as the official ``train_flux_I2I.py`` I2I
path; the training run itself is :class:`~mmbokeh.generators.diffusion.adapter_model.BokehAdapterModel` on
mmengine's Runner.

One step: the sharp image (reference) and its bokeh render at strength K (target) are VAE-encoded; the target
latents are noised on the rectified-flow path ``z = (1 - sigma) x + sigma n``; the packed noisy tokens followed by
the reference tokens (image id 1, the Kontext convention) go through the transformer conditioned on K (``K / 30``)
and a caption; the loss is the mean squared error of the predicted velocity on the target tokens against
``n - x``. Only the adapter receives gradients.
"""
from typing import Optional, Sequence

import torch

from .adapter import BokehFluxAdapter


def center_crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Centre-crop [..., H, W] so that H and W are multiples of ``multiple`` (the official floor-crop)."""
    h, w = x.shape[-2:]
    nh, nw = h // multiple * multiple, w // multiple * multiple
    if nh == 0 or nw == 0:
        raise ValueError(f'images of {h}x{w} are smaller than the VAE multiple {multiple}')
    top, left = (h - nh) // 2, (w - nw) // 2
    return x[..., top:top + nh, left:left + nw]


def encode_latents(vae, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """VAE latents ``(z - shift) * scale`` [B, C, H / f, W / f] of images [B, 3, H, W] in [-1, 1], sampled from the
    posterior (as the official trainer) with ``generator`` (None: torch's global state)."""
    with torch.no_grad():
        latents = vae.encode(images.to(vae.device, vae.dtype)).latent_dist.sample(generator=generator)
    shift = vae.config.shift_factor or 0.0
    return (latents - shift) * vae.config.scaling_factor


def flow_matching_loss(pipe, adapter: BokehFluxAdapter, reference: torch.Tensor, target: torch.Tensor,
                       k: torch.Tensor, prompts: Sequence[str], scheduler=None, guidance_scale: float = 1.0,
                       weighting_scheme: str = 'none', max_sequence_length: int = 512,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The adapter's training loss (a scalar) for one batch.

    Args:
        pipe: a ``FluxKontextPipeline`` with the adapter installed.
        adapter: the installed :class:`BokehFluxAdapter` (gives the K embedding).
        reference, target: [B, 3, H, W] in [-1, 1] (RGB), H and W multiples of ``vae_multiple(pipe)``.
        k: [B] bokeh strengths of the targets (pixels x metres, K in [1, 30] officially), fed as K / 30.
        prompts: B captions.
        scheduler: the training noise scheduler (a fresh copy of ``pipe.scheduler`` when None).
        guidance_scale: value of FLUX's guidance embedding (official 1.0).
        weighting_scheme: diffusers' SD3 timestep density / loss weighting ('none' = uniform, as official).
        max_sequence_length: T5 prompt length.
        generator: a CPU generator for every random draw of the step (VAE posterior samples, timesteps, noise), so
            that the step is a function of its inputs and the generator's seed; None uses torch's global state.
    """
    from diffusers import FluxKontextPipeline
    from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

    transformer, device, dtype = pipe.transformer, pipe.transformer.device, pipe.transformer.dtype
    scheduler = scheduler or pipe.scheduler.__class__.from_config(pipe.scheduler.config)
    latents = encode_latents(pipe.vae, target, generator).to(device, dtype)
    ref_latents = encode_latents(pipe.vae, reference, generator).to(device, dtype)
    b, c, h, w = latents.shape
    gen_device = generator.device if generator is not None else 'cpu'
    noise = torch.randn(latents.shape, generator=generator, device=gen_device).to(device, dtype)
    u = compute_density_for_timestep_sampling(weighting_scheme, batch_size=b, logit_mean=0.0, logit_std=1.0,
                                              mode_scale=1.29, device=gen_device, generator=generator)
    idx = (u * scheduler.config.num_train_timesteps).long().clamp(max=len(scheduler.timesteps) - 1).cpu()
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


__all__ = ['center_crop_to_multiple', 'encode_latents', 'flow_matching_loss']
