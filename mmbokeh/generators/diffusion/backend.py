"""``diffusion`` backend: FLUX.1-Kontext + the BokehDepth bokeh adapter, one image -> frames at several K."""
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np
import torch

from mmbokeh.registry import BOKEH_BACKENDS

from ..base import BokehBackend, RenderedStack, StackRequest
from .loading import install_adapter, load_kontext_pipeline, parse_dtype, vae_multiple
from .prompts import OFFICIAL_PROMPT_TEMPLATE, build_prompt


def color_transfer_lab(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Match the per-channel mean and standard deviation of ``image`` to ``reference`` in CIELAB (uint8 RGB)."""
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    out = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    mean_r, std_r = ref.reshape(-1, 3).mean(0), ref.reshape(-1, 3).std(0)
    mean_o, std_o = out.reshape(-1, 3).mean(0), out.reshape(-1, 3).std(0)
    scale = np.where(std_o > 1e-6, std_r / np.maximum(std_o, 1e-6), 1.0)
    out = (out - mean_o) * scale + mean_r
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


@BOKEH_BACKENDS.register_module('diffusion')
class DiffusionBackend(BokehBackend):
    """Generate each K with diffusers' ``FluxKontextPipeline`` (image editing) and the bokeh adapter.

    As the official ``gen_bokeh_stack.py``: the image is resized (Lanczos) to sizes that are multiples of 16, all K
    of a sample go through the pipeline as one batch with the official prompt (one prompt per K), every frame's
    generator gets the same seed, and K enters the adapter as ``clamp(K, 1, 30) / 30``. Frames are resized back to
    the image's size; K = 0 gives the input itself. The model chooses the focus itself (no focus distance) and never
    sees any depth, so these stacks are legitimate inputs for monocular depth benchmarks.

    The pipeline loads lazily on the first sample (use ``num_workers=0``, or better make stacks offline with
    ``tools/make_bokeh_stacks.py`` and read them with the ``cached`` backend).

    Args:
        pretrained: local folder of a diffusers FLUX.1-Kontext pipeline (nothing is downloaded).
        adapter_weights: official ``bokeh_lora.bin`` or a ``.safetensors`` of the adapter (None: untrained adapter).
        adapter: :class:`BokehFluxAdapter` options (``block_ids``, ``lora_rank``, ``lora_alpha``, ...).
        prompt_template: prompt with ``{value}`` (K); official default.
        num_inference_steps, guidance_scale: official offline tool 50 and 7.0.
        max_sequence_length: T5 prompt length.
        dtype, device: of the pipeline ('bfloat16' officially; device None = CUDA if available).
        frames_per_call: at most this many K per pipeline call (None: all).
        color_transfer: match each frame's colour statistics to the input (the official pipeline.py does; the
            offline tool does not).
        seed: the generator seed of every sample's frames (the official pipeline.py: 42); None draws one per
            sample from the request's ``rng``.
    """

    def __init__(self, pretrained: str, adapter_weights: Optional[str] = None, adapter: Optional[dict] = None,
                 prompt_template: str = OFFICIAL_PROMPT_TEMPLATE, num_inference_steps: int = 50,
                 guidance_scale: float = 7.0, max_sequence_length: int = 512, dtype: str = 'bfloat16',
                 device: Optional[str] = None, frames_per_call: Optional[int] = None,
                 color_transfer: bool = False, seed: Optional[int] = None) -> None:
        build_prompt(prompt_template, 10.0)  # fail early on a bad template
        self.pretrained, self.adapter_weights, self.adapter_cfg = pretrained, adapter_weights, dict(adapter or {})
        self.prompt_template = prompt_template
        self.num_inference_steps, self.guidance_scale = int(num_inference_steps), float(guidance_scale)
        self.max_sequence_length = int(max_sequence_length)
        self.dtype, self.device = parse_dtype(dtype), device
        self.frames_per_call, self.color_transfer = frames_per_call, bool(color_transfer)
        self.seed = None if seed is None else int(seed)
        self.pipe = self.adapter = None
        weights = osp.basename(str(adapter_weights).rstrip('/')) if adapter_weights else 'untrained-adapter'
        self.source = f'diffusion:{osp.basename(str(pretrained).rstrip("/"))}+{weights}'

    def load(self) -> None:
        """Load the pipeline and the adapter (done on the first render)."""
        if self.pipe is None:
            pipe = load_kontext_pipeline(self.pretrained, self.dtype, self.device)
            self.adapter = install_adapter(pipe, self.adapter_cfg, self.adapter_weights, self.dtype).eval()
            self.pipe = pipe

    @torch.no_grad()
    def generate(self, image_rgb: np.ndarray, k_values: np.ndarray, seed: int) -> List[np.ndarray]:
        """Frames (H', W', 3) uint8 RGB at the pipeline size (multiples of 16) for an (H, W, 3) uint8 RGB image."""
        from PIL import Image
        self.load()
        h, w = image_rgb.shape[:2]
        m = vae_multiple(self.pipe)
        hh, ww = max(m, h // m * m), max(m, w // m * m)
        pil = Image.fromarray(image_rgb)
        if (hh, ww) != (h, w):
            pil = pil.resize((ww, hh), Image.LANCZOS)
        frames: List[np.ndarray] = []
        chunk = self.frames_per_call or len(k_values)
        for start in range(0, len(k_values), chunk):
            ks = [float(k) for k in k_values[start:start + chunk]]
            kw = self.adapter.attention_kwargs(torch.tensor(ks))
            out = self.pipe(prompt=[build_prompt(self.prompt_template, k) for k in ks], image=pil, height=hh,
                            width=ww, num_inference_steps=self.num_inference_steps,
                            guidance_scale=self.guidance_scale, max_area=hh * ww, _auto_resize=False,
                            max_sequence_length=self.max_sequence_length, joint_attention_kwargs=kw,
                            generator=[torch.Generator('cpu').manual_seed(seed) for _ in ks], output_type='np')
            frames.extend(np.clip(np.rint(np.asarray(f) * 255), 0, 255).astype(np.uint8) for f in out.images)
        return frames

    def render(self, request: StackRequest) -> RenderedStack:
        if request.k_values is None:
            raise ValueError('diffusion backend needs k_values in its StackRequest')
        img = request.img
        h, w = img.shape[:2]
        rgb = np.clip(img, 0, 255).astype(np.uint8)[..., ::-1].copy()
        k = np.asarray(request.k_values, np.float32).reshape(-1)
        seed = self.seed if self.seed is not None else int(request.rng.integers(0, 2**31 - 1))
        stack = np.empty((len(k), ) + img.shape, img.dtype)
        stack[k == 0] = img  # the reference frame
        todo = np.flatnonzero(k != 0)
        frames = self.generate(rgb, k[todo], seed) if todo.size else []
        for i, frame in zip(todo, frames):
            if frame.shape[:2] != (h, w):
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LANCZOS4)
            if self.color_transfer:
                frame = color_transfer_lab(rgb, frame)
            stack[i] = frame[..., ::-1]
        return RenderedStack(stack, k, self.source)
