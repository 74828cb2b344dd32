"""Diffusion backend of Stage 1: diffusers FLUX.1-Kontext + the official BokehDepth bokeh adapter.

Importing this package does not import diffusers; the pipeline loads when first used.
"""
from .adapter import BokehFluxAdapter, load_state_dict_file, parse_block_ids, resolve_weights
from .attention import BokehFluxAttnProcessor
from .backend import DiffusionBackend, color_transfer_lab
from .loading import freeze_base, install_adapter, load_kontext_pipeline, parse_dtype, vae_multiple
from .lora import LoRALinear
from .prompts import (K_MAX, K_MIN, OFFICIAL_PROMPT_TEMPLATE, OFFICIAL_TRAINING_TEMPLATES, build_prompt,
                      normalize_k, training_prompt)
from .training import batch_to_pairs, center_crop_to_multiple, flow_matching_loss, train_adapter

__all__ = [
    'BokehFluxAdapter', 'BokehFluxAttnProcessor', 'DiffusionBackend', 'LoRALinear', 'K_MAX', 'K_MIN',
    'OFFICIAL_PROMPT_TEMPLATE', 'OFFICIAL_TRAINING_TEMPLATES', 'batch_to_pairs', 'build_prompt',
    'center_crop_to_multiple', 'color_transfer_lab', 'flow_matching_loss', 'freeze_base', 'install_adapter',
    'load_kontext_pipeline', 'load_state_dict_file', 'normalize_k', 'parse_block_ids', 'parse_dtype',
    'resolve_weights', 'train_adapter', 'training_prompt', 'vae_multiple'
]
