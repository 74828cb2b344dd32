"""Prompt templates and K normalisation of the official BokehDepth Stage-1 adapter (FLUX.1-Kontext)."""
import random
from typing import Sequence

import torch

#: K is fed to the adapter as K / K_MAX; inference clamps K to [K_MIN, K_MAX] first (official values).
K_MIN, K_MAX = 1.0, 30.0

#: The official inference / offline-tool prompt (``gen_bokeh_stack.py``, ``run_inference.sh``).
OFFICIAL_PROMPT_TEMPLATE = ('Set dof_cond = {value:.2f} (stronger background defocus); preserve subject sharpness; '
                            'keep composition, lighting, and colors unchanged.')

#: The official I2I training captions (``train_flux_I2I.py``), one drawn per sample, ``{value}`` = K with 2 decimals.
OFFICIAL_TRAINING_TEMPLATES = (
    'Set dof_cond = {value} (stronger background defocus), no changes to composition, lighting, or colors.',
    'Increase dof_cond to {value} to enhance background blur; preserve subject sharpness and keep composition, '
    'lighting, colors unchanged.',
    'Apply dof_cond = {value} for stronger bokeh; keep the main subject crisp, do not alter composition, lighting, '
    'or color tone.',
    'Use dof_cond = {value} to intensify background defocus; maintain original framing, lighting, and color fidelity.',
)


def build_prompt(template: str, k: float) -> str:
    """Fill a template: ``{value}`` / ``{K_abs}`` = K, ``{aperture}`` = max(1, 30 / K) (the official f-number)."""
    k = float(k)
    try:
        return template.format(value=k, K_abs=k, aperture=max(1.0, K_MAX / max(k, 1e-6)))
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f'prompt template {template!r} cannot be filled ({err!r}); placeholders: '
                         '{value}, {K_abs}, {aperture}') from None


def training_prompt(k: float, rng: random.Random, templates: Sequence[str] = OFFICIAL_TRAINING_TEMPLATES) -> str:
    """One training caption for strength ``k``, the template drawn with ``rng`` (K written with 2 decimals)."""
    return rng.choice(list(templates)).format(value=f'{float(k):.2f}')


def normalize_k(k: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Adapter input [B, 1] from K [B]: ``clamp(K, 1, 30) / 30`` (inference) or ``K / 30`` (training)."""
    k = k.reshape(-1, 1).float()
    return (k.clamp(K_MIN, K_MAX) if clamp else k) / K_MAX
