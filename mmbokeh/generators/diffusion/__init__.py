"""Diffusion backend of Stage 1: diffusers FLUX.1-Kontext + the official BokehDepth bokeh adapter, and the
adapter's training model for mmengine's Runner (``python tools/train.py configs/bokeh_generator/
flux_kontext_adapter.py``).

Importing this package does not import diffusers; the pipeline loads when first used.
"""
from .adapter import BokehFluxAdapter, load_state_dict_file, parse_block_ids, resolve_weights
from .adapter_model import (
                            AdapterFSDPStrategy,
                            BokehAdapterModel,
                            BokehPairPreprocessor,
                            flux_block_wrap_policy,
                            step_seed,
)
from .attention import BokehFluxAttnProcessor
from .backend import DiffusionBackend, color_transfer_lab
from .loading import freeze_base, install_adapter, load_kontext_pipeline, parse_dtype, vae_multiple
from .lora import LoRALinear
from .prompts import (
                            K_MAX,
                            K_MIN,
                            OFFICIAL_PROMPT_TEMPLATE,
                            OFFICIAL_TRAINING_TEMPLATES,
                            build_prompt,
                            normalize_k,
                            training_prompt,
)
from .training import center_crop_to_multiple, encode_latents, flow_matching_loss

__all__ = [
    'AdapterFSDPStrategy', 'BokehAdapterModel', 'BokehFluxAdapter', 'BokehFluxAttnProcessor', 'BokehPairPreprocessor',
    'DiffusionBackend', 'LoRALinear', 'K_MAX', 'K_MIN', 'OFFICIAL_PROMPT_TEMPLATE', 'OFFICIAL_TRAINING_TEMPLATES',
    'build_prompt', 'center_crop_to_multiple', 'color_transfer_lab', 'encode_latents', 'flow_matching_loss',
    'flux_block_wrap_policy', 'freeze_base', 'install_adapter', 'load_kontext_pipeline', 'load_state_dict_file',
    'normalize_k', 'parse_block_ids', 'parse_dtype', 'resolve_weights', 'step_seed', 'training_prompt', 'vae_multiple'
]
