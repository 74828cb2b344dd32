"""Load a local FLUX.1-Kontext pipeline (never downloads) and install the bokeh adapter into it."""
import os.path as osp
from typing import Optional, Union

import torch

from .adapter import BokehFluxAdapter

DTYPES = {'float32': torch.float32, 'fp32': torch.float32, 'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16,
          'float16': torch.float16, 'fp16': torch.float16}


def parse_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    """'bfloat16' / 'bf16' / 'float16' / 'fp16' / 'float32' / 'fp32' or a torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got {dtype!r}')
    return DTYPES[dtype]


def default_device(device: Optional[str]) -> torch.device:
    """``device``, or CUDA when available, else CPU."""
    return torch.device(device if device else ('cuda' if torch.cuda.is_available() else 'cpu'))


def load_kontext_pipeline(pretrained: str, dtype: Union[str, torch.dtype] = 'bfloat16',
                          device: Optional[str] = None):
    """``FluxKontextPipeline.from_pretrained(pretrained, local_files_only=True)`` in ``dtype`` on ``device``.

    Raises a clear error when diffusers is missing or ``pretrained`` is not a local diffusers folder.
    """
    try:
        from diffusers import FluxKontextPipeline
    except ImportError as err:
        raise ImportError('the diffusion backend needs diffusers >= 0.34 with FluxKontextPipeline: '
                          'pip install "mmbokeh[diffusion]"') from err
    if not osp.isfile(osp.join(str(pretrained), 'model_index.json')):
        raise FileNotFoundError(f'{pretrained} is not a local diffusers pipeline folder (no model_index.json). '
                                'Download black-forest-labs/FLUX.1-Kontext-dev once (huggingface-cli download '
                                '--local-dir DIR) and point `pretrained` at DIR; nothing is downloaded here.')
    from diffusers.pipelines import pipeline_utils
    key = 'dtype' if hasattr(pipeline_utils, '_resolve_dtype') else 'torch_dtype'  # renamed in diffusers ~0.38
    pipe = FluxKontextPipeline.from_pretrained(str(pretrained), local_files_only=True, **{key: parse_dtype(dtype)})
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(default_device(device))


def freeze_base(pipe) -> None:
    """Turn gradients off for every base model of the pipeline (transformer, VAE, both text encoders)."""
    for name in ('transformer', 'vae', 'text_encoder', 'text_encoder_2'):
        module = getattr(pipe, name, None)
        if module is not None:
            module.requires_grad_(False)


def install_adapter(pipe, adapter_cfg: Optional[dict] = None, weights: Optional[str] = None,
                    dtype: Union[str, torch.dtype] = torch.float32) -> BokehFluxAdapter:
    """Install a :class:`BokehFluxAdapter` on the transformer's device in ``dtype`` (float32 for training) and
    optionally load weights."""
    adapter = BokehFluxAdapter(pipe.transformer, **(adapter_cfg or {}))
    if weights is not None:
        adapter.load_weights(weights)
    return adapter.to(pipe.transformer.device, parse_dtype(dtype))


def vae_multiple(pipe) -> int:
    """Image sizes must be multiples of this (VAE downsampling x the 2x2 latent packing)."""
    return int(pipe.vae_scale_factor) * 2


__all__ = ['load_kontext_pipeline', 'freeze_base', 'install_adapter', 'parse_dtype', 'default_device', 'vae_multiple']
