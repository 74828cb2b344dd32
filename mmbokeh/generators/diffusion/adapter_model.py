"""Stage-1 adapter training on mmengine's Runner: :class:`BokehAdapterModel` and :class:`BokehPairPreprocessor`.

The model holds a local diffusers FLUX.1-Kontext pipeline (frozen: transformer, VAE, both text encoders) with a
:class:`BokehFluxAdapter` installed, and trains the adapter with :func:`flow_matching_loss`. Its state dict (and so
every checkpoint mmengine writes, ``--resume`` and ``load_from``) holds only the adapter's parameters, under
``adapter.`` + the official key names; :meth:`BokehAdapterModel.official_state_dict` strips the prefix.

Every random draw of a training step (VAE posterior samples, timesteps, noise, caption template) comes from
generators seeded by ``(seed, iteration, rank)``, the iteration read from mmengine's message hub: a run killed and
resumed from a checkpoint takes the same steps as an uninterrupted one (mmengine does not restore RNG states).
"""
import random
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine._strategy import FSDPStrategy
from mmengine.dist import get_rank
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseDataPreprocessor, BaseModel

from mmbokeh.registry import MODELS

from .loading import freeze_base, install_adapter, load_kontext_pipeline, vae_multiple
from .prompts import K_MAX, K_MIN, OFFICIAL_TRAINING_TEMPLATES, training_prompt
from .training import center_crop_to_multiple, flow_matching_loss

#: The pipeline's frozen modules, registered as children of the model (so that ``.to()``, DDP and FSDP see them) but
#: left out of its state dict.
BASE_MODULES = ('transformer', 'vae', 'text_encoder', 'text_encoder_2')
#: Model-wrapper prefixes that may precede a key (DDP ``module.``, FSDP ``_fsdp_wrapped_module.``).
WRAPPER_PREFIXES = ('module', '_fsdp_wrapped_module')
#: Classes that :func:`flux_block_wrap_policy` makes FSDP units: FLUX double / single-stream blocks and T5 blocks.
FSDP_BLOCK_CLASSES = ('FluxTransformerBlock', 'FluxSingleTransformerBlock', 'T5Block')

TensorOrList = Union[torch.Tensor, Sequence[torch.Tensor]]


def _is_base_key(key: str, prefix: str = '') -> bool:
    """Whether a state-dict key (below ``prefix``) names a parameter or buffer of a frozen base module."""
    if not key.startswith(prefix):
        return False
    parts = key[len(prefix):].split('.')
    while parts and parts[0] in WRAPPER_PREFIXES:
        parts = parts[1:]
    return bool(parts) and parts[0] in BASE_MODULES


def _drop_base_state(module: nn.Module, state_dict: Dict, prefix: str, local_metadata: Dict) -> None:
    """State-dict post-hook (torch's and mmengine's ``get_state_dict``): remove the base model's entries in place.

    Inside an FSDP wrapper nothing is removed here (FSDP's own hooks, which run later, expect every parameter it
    manages); :class:`AdapterFSDPStrategy` filters the gathered state instead."""
    if '_fsdp_wrapped_module' in prefix:
        return
    for key in [k for k in state_dict if _is_base_key(k, prefix)]:
        del state_dict[key]
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        for key in [k for k in metadata if _is_base_key(k + '.', prefix)]:
            del metadata[key]


def _ignore_missing_base_keys(module: nn.Module, incompatible_keys) -> None:
    """Load post-hook: an adapter-only checkpoint is complete, so the base model's keys are not missing."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not _is_base_key(k)]


def flux_block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int,
                           block_classes: Sequence[str] = FSDP_BLOCK_CLASSES) -> bool:
    """FSDP auto-wrap policy: one unit per transformer block (by class name); the rest, the adapter's K embedding
    included, stays in the root unit. The adapter's processors live inside the attention modules of the blocks, so
    they are sharded and gathered with their block (a size-based policy could wrap the adapter as a unit of its own,
    whose forward never runs)."""
    return True if recurse else type(module).__name__ in block_classes


def step_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit seed that depends only on ``(seed, step, rank)`` (numpy's SeedSequence mixing)."""
    state = np.random.SeedSequence([int(seed), int(step), int(rank)]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


class AdapterFSDPStrategy(FSDPStrategy):
    """mmengine's ``FSDPStrategy`` whose checkpoints hold only the adapter: the gathered model state minus the frozen
    base, loaded back with the base's keys allowed to be missing. Config ``type``: this class's import path,
    ``mmbokeh.generators.diffusion.adapter_model.AdapterFSDPStrategy`` (mmbokeh has no strategy registry)."""

    def model_state_dict(self) -> dict:
        return {k: v for k, v in super().model_state_dict().items() if not _is_base_key(k)}

    def load_model_state_dict(self, state_dict: dict, *, strict: bool = False,
                              revise_keys: list = [(r'^module.', '')]) -> None:  # noqa: B006 (mmengine's default)
        super().load_model_state_dict(state_dict, strict=False, revise_keys=revise_keys)


@MODELS.register_module()
class BokehPairPreprocessor(BaseDataPreprocessor):
    """Training pairs for the adapter from ``PackDepthInputs`` inputs ``dict(img, stack, stack_k)``.

    ``img`` ([3, H, W] per sample or [B, 3, H, W]) is the reference, frame 0 of ``stack`` ([S, 3, H, W] per sample
    or [B, S, 3, H, W], same encoding) the target and ``stack_k[:, 0]`` its K. Output ``inputs``:
    ``dict(reference=[B, 3, h, w], target=[B, 3, h, w], k=[B])``, images as float RGB in [-1, 1] (from uint8 BGR:
    ``x / 127.5 - 1``), centre-cropped to multiples of ``size_multiple``.

    Args:
        size_multiple: crop H and W to multiples of this (None: the model sets its VAE multiple, 16 for FLUX.1).
        bgr_to_rgb: flip the channel order (images are loaded BGR).
        non_blocking: passed to the device copy.
    """

    def __init__(self, size_multiple: Optional[int] = None, bgr_to_rgb: bool = True,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.size_multiple, self.bgr_to_rgb = size_multiple, bgr_to_rgb

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        raw = data['inputs']
        if not isinstance(raw, dict) or 'stack' not in raw or 'stack_k' not in raw:
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise KeyError(f'BokehPairPreprocessor needs inputs dict(img, stack, stack_k), got {got}: put '
                           "BokehStackGenerator(backend='physical', k_range=(1, 30), num_k=1, random_k=True) before "
                           'PackDepthInputs in the train pipeline')
        reference = self._batch(raw['img'], 'img')  # [B, 3, H, W]
        stack = self._batch(raw['stack'], 'stack')  # [B, S, 3, H, W]
        stack_k = self._batch(raw['stack_k'], 'stack_k').float()  # [B, S]
        if stack.dim() != 5 or stack.shape[0] != reference.shape[0] or stack.shape[-3:] != reference.shape[-3:]:
            raise ValueError(f'BokehPairPreprocessor: stack {tuple(stack.shape)} does not match img '
                             f'{tuple(reference.shape)} as [B, S, 3, H, W]')
        inputs = dict(reference=self._to_unit(reference), target=self._to_unit(stack[:, 0]), k=stack_k[:, 0])
        return dict(inputs=inputs, data_samples=data.get('data_samples'))

    @staticmethod
    def _batch(value: TensorOrList, key: str) -> torch.Tensor:
        """A batched tensor from a tensor or a list of per-sample tensors (all of one shape)."""
        if isinstance(value, torch.Tensor):
            return value
        shapes = {tuple(v.shape) for v in value}
        if len(shapes) != 1:
            raise ValueError(f'BokehPairPreprocessor: inputs[{key!r}] of one batch need one shape, got '
                             f'{sorted(shapes)} (crop to a fixed size in the pipeline)')
        return torch.stack(list(value))

    def _to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [0, 255] -> float RGB in [-1, 1], cropped to ``size_multiple``."""
        images = images.float()
        if self.bgr_to_rgb:
            images = images.flip(-3)
        images = images / 127.5 - 1.0
        return center_crop_to_multiple(images, self.size_multiple) if self.size_multiple else images


@MODELS.register_module()
class BokehAdapterModel(BaseModel):
    """The BokehDepth Stage-1 adapter on a frozen local FLUX.1-Kontext, trained with the flow-matching loss.

    ``forward(inputs, data_samples, mode='loss')`` with ``inputs = dict(reference, target, k)`` from
    :class:`BokehPairPreprocessor` returns ``dict(loss_flow=...)``. Generating frames is the ``diffusion`` stack
    backend's job (``DiffusionBackend(adapter_weights=...)``), so ``predict`` and ``tensor`` raise.

    Args:
        pretrained: local folder of a diffusers FLUX.1-Kontext pipeline (nothing is downloaded).
        adapter: :class:`BokehFluxAdapter` options (``block_ids``, ``context_dim``, ``lora_rank``, ``lora_alpha``,
            ``adapt_q``, ``adapt_k``, ...).
        adapter_init: official ``bokeh_lora.bin`` / ``.safetensors`` to start from (None: a fresh adapter).
        dtype: of the frozen base ('bfloat16' officially); the adapter is float32.
        device: where the pipeline loads (None: CUDA if available, else CPU); the Runner moves the model anyway.
        gradient_checkpointing: recompute the transformer's activations in the backward pass (official: on).
        guidance_scale, weighting_scheme, max_sequence_length: see :func:`flow_matching_loss` (official 1.0,
            'none', 512).
        prompt_templates: training captions, one drawn per sample (official: the four I2I templates).
        seed: seeds every step's draws together with the iteration and the rank.
        data_preprocessor: default :class:`BokehPairPreprocessor`.
    """

    def __init__(self,
                 pretrained: str,
                 adapter: Optional[dict] = None,
                 adapter_init: Optional[str] = None,
                 dtype: str = 'bfloat16',
                 device: Optional[str] = None,
                 gradient_checkpointing: bool = False,
                 guidance_scale: float = 1.0,
                 weighting_scheme: str = 'none',
                 max_sequence_length: int = 512,
                 prompt_templates: Sequence[str] = OFFICIAL_TRAINING_TEMPLATES,
                 seed: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='mmbokeh.BokehPairPreprocessor'),
                         init_cfg=init_cfg)
        pipe = load_kontext_pipeline(pretrained, dtype, device)
        freeze_base(pipe)
        if gradient_checkpointing:
            pipe.transformer.enable_gradient_checkpointing()
        # The adapter first, so that named_parameters() (optimizer, DDP) names its processors ``adapter.*``, not
        # ``transformer.*.processor.*`` (the same modules, reachable both ways).
        self.adapter = install_adapter(pipe, adapter, adapter_init)
        for name in BASE_MODULES:
            setattr(self, name, getattr(pipe, name))
        self.pipe = pipe  # not an nn.Module: holds the same modules, the tokenizers and the scheduler
        self.noise_scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config)
        if getattr(self.data_preprocessor, 'size_multiple', 0) is None:
            self.data_preprocessor.size_multiple = vae_multiple(pipe)
        self.guidance_scale, self.weighting_scheme = float(guidance_scale), weighting_scheme
        self.max_sequence_length, self.prompt_templates = int(max_sequence_length), tuple(prompt_templates)
        self.seed, self._local_step = int(seed), 0
        self.register_state_dict_post_hook(_drop_base_state)
        self.register_load_state_dict_post_hook(_ignore_missing_base_keys)
        # DDP: do not broadcast the frozen base at start-up (every rank loads it from disk).
        self._ddp_params_and_buffers_to_ignore = [n for n, p in self.named_parameters() if not p.requires_grad]
        self._ddp_params_and_buffers_to_ignore += [n for n, _ in self.named_buffers()]

    def init_weights(self) -> None:
        """Nothing to initialise: the base is pretrained and the adapter initialised (or loaded) when built.

        (The default would call the text encoders' own ``init_weights`` and overwrite their pretrained weights.)"""

    def train(self, mode: bool = True) -> 'BokehAdapterModel':
        """Train mode for the adapter only: the frozen base stays in eval mode (no dropout in the text encoders)."""
        super().train(mode)
        for name in BASE_MODULES:
            getattr(self, name).eval()
        return self

    @staticmethod
    def official_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The adapter's entries of a model state dict (a checkpoint's ``state_dict``) under the official key names
        of ``bokeh_lora.bin`` (``adapter.`` and any ``module.`` prefix removed)."""
        out = {}
        for key, value in state_dict.items():
            parts = key.split('.')
            while parts and parts[0] in WRAPPER_PREFIXES:
                parts = parts[1:]
            if parts and parts[0] == 'adapter':
                out['.'.join(parts[1:])] = value
        return out

    def forward(self, inputs: Dict[str, torch.Tensor], data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], list]:
        """mmengine's entry point: ``mode`` 'loss' -> :meth:`loss`; 'predict' / 'tensor' raise."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            raise NotImplementedError('BokehAdapterModel has no tensor mode: it only trains the adapter')
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def loss(self, inputs: Dict[str, torch.Tensor], data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        """Flow-matching loss of one batch: ``inputs = dict(reference [B, 3, H, W], target [B, 3, H, W], k [B])``,
        images RGB in [-1, 1] with H, W multiples of the VAE multiple. Returns ``dict(loss_flow=scalar)``."""
        reference, target, k = inputs['reference'], inputs['target'], inputs['k']
        if torch.any((k < K_MIN) | (k > K_MAX)):
            print_log(f'training K {k.tolist()} outside the official range [{K_MIN}, {K_MAX}]', logger='current',
                      level=30)
        generator, rng = self.step_generators()
        prompts = [training_prompt(float(v), rng, self.prompt_templates) for v in k]
        self._sync_pipeline()
        loss = flow_matching_loss(self.pipe, self.adapter, reference, target, k, prompts, self.noise_scheduler,
                                  self.guidance_scale, self.weighting_scheme, self.max_sequence_length, generator)
        return dict(loss_flow=loss)

    def predict(self, inputs: Dict[str, torch.Tensor], data_samples: Optional[list] = None) -> list:
        raise NotImplementedError(
            'BokehAdapterModel only trains the adapter. Generate bokeh frames with the exported weights: '
            "BokehStackGenerator(backend=dict(type='diffusion', pretrained=..., adapter_weights='<work_dir>/"
            "bokeh_lora.bin')) or tools/make_bokeh_stacks.py configs/bokeh_generator/diffusion_nyu.py")

    def step_generators(self) -> Tuple[torch.Generator, random.Random]:
        """A torch CPU generator and a ``random.Random`` for this step, seeded by ``(seed, iteration, rank)``.

        The iteration is mmengine's (the message hub's ``iter``, restored on resume); outside a Runner a counter of
        calls is used instead."""
        step = MessageHub.get_current_instance().get_info('iter')
        if step is None:
            step, self._local_step = self._local_step, self._local_step + 1
        seed = step_seed(self.seed, step, get_rank())
        return torch.Generator().manual_seed(seed), random.Random(seed)

    def _sync_pipeline(self) -> None:
        """Point the pipeline at the model's current children (a model wrapper such as FSDP may have replaced
        them), so that the loss runs through the wrappers."""
        for name in BASE_MODULES:
            module = getattr(self, name)
            if self.pipe.__dict__.get(name) is not module:
                object.__setattr__(self.pipe, name, module)


__all__ = ['AdapterFSDPStrategy', 'BokehAdapterModel', 'BokehPairPreprocessor', 'flux_block_wrap_policy',
           'step_seed']
