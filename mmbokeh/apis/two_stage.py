"""Both BokehDepth stages on a photograph: Stage 1 makes a bokeh stack of it, Stage 2 fuses the stack into depth.

Follows the official ``pipeline.py`` (``docs/bokehdepth.md``, "From a photograph: both stages in one command"):

1. the photo is resized (Lanczos, aspect not kept) to ``stage1_size`` (official 512 x 512) -> ``ref.png``;
2. Stage 1 renders one frame per K (official 10, 20, 30) with one of three sources:

   - ``diffusion``: FLUX.1-Kontext + the official bokeh adapter (local weights only), K clamped to [1, 30] / 30 in
     the adapter, one seed for every frame, each frame colour-matched to the reference in CIELAB;
   - ``physical``: the physical renderer from the Stage-2 model's own first-pass depth (no stack), never ground
     truth (``docs/design.md``, "Honesty rule"); the source is recorded as ``'physical:pred_depth'``;
   - ``cached``: a stack already on disk in the official layout (``<stack_root>/<photo stem>/defocus_stack``);

3. Stage 2 resizes reference and stack (bilinear) to ``stage2_size`` (official 518 x 518), feeds
   ``dict(img, stack, stack_k)`` through the model's data preprocessor and returns depth at the photo's size.
   UniDepthV2 gets the official assumed camera ``fx = fy = 0.7 W``, principal point at the centre (of the Stage-2
   input); Depth Anything V2 takes no camera.

A Stage-1 failure raises ``RuntimeError('Stage 1 (<source>) failed for <photo>: <cause>')``; the official code's
silent fallback (copies of the input as the stack) is not reproduced.
"""
import io
import json
import os.path as osp
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.registry import init_default_scope

from mmbokeh.generators import (
    STACK_DIR,
    BokehBackend,
    DiffusionBackend,
    KSelection,
    StackRequest,
    build_backend,
    focus_description,
    parse_focus,
    select_focus,
    write_stack,
)
from mmbokeh.generators.stack_cache import INDEX_NAME
from mmbokeh.models.estimators.unidepth_v2 import UniDepthV2
from mmbokeh.structures import DepthDataSample
from mmbokeh.utils.io import atomic_path, atomic_write_bytes
from mmbokeh.version import __version__
from mmbokeh.visualization import colorize_depth, make_stack_grid

from .inference import init_model

PathLike = Union[str, Path]
STAGE1_SOURCES = ('diffusion', 'physical', 'cached')
#: The official adapter of ``run_inference.sh`` (``BLOCK_IDS=0-56``, LoRA rank / alpha 128, Q and K adapted).
OFFICIAL_ADAPTER = dict(block_ids='0-56', context_dim=768, lora_rank=128, lora_alpha=128, adapt_q=True, adapt_k=True)
#: The official assumed focal length, as a fraction of the image width.
FOCAL_FRACTION = 0.7
SUMMARY_NAME = 'pipeline_summary.json'
OUTPUT_FILES = ('ref.png', f'{STACK_DIR}/{INDEX_NAME}', 'manifest.jsonl', 'depth.npy', 'depth_color.png',
                'stack_grid.png', 'stage2_summary.json', SUMMARY_NAME)


@dataclass
class Stage1Result:
    """A Stage-1 stack.

    Attributes:
        ref: (h, w, 3) uint8 BGR, the photo at the Stage-1 size.
        frames: (S, h, w, 3) uint8 BGR, one frame per K.
        k: (S,) float32 bokeh strengths (pixels x metres).
        source: what made the frames (``'diffusion:<model>+<adapter>'``, ``'physical:pred_depth'``, ``'cached:...'``).
        meta: extra ``stack_index.json`` entries (generation settings, focus distance in metres, ...).
        seconds: wall time of Stage 1.
    """

    ref: np.ndarray
    frames: np.ndarray
    k: np.ndarray
    source: str
    meta: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def resize_photo(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (h, w, 3) at ``size = (h, w)`` with PIL's Lanczos (the official Stage-1 resize)."""
    from PIL import Image
    h, w = size
    if img.shape[:2] == (h, w):
        return img.copy()
    rgb = Image.fromarray(np.ascontiguousarray(img[..., ::-1])).resize((w, h), Image.LANCZOS)
    return np.asarray(rgb)[..., ::-1].copy()


def default_camera(size: Tuple[int, int], focal_fraction: float = FOCAL_FRACTION) -> np.ndarray:
    """The official assumed intrinsics (3, 3) float32 of an image of ``size = (h, w)`` pixels: fx = fy =
    ``focal_fraction * w``, principal point at the centre (mmbokeh convention: pixel centres at integers, so
    ``((w - 1) / 2, (h - 1) / 2)``; UniDepth's ``(w / 2, h / 2)``)."""
    h, w = size
    f = focal_fraction * w
    return np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]], np.float32)


def build_stage1_backend(source: str, *, flux: Optional[PathLike] = None, adapter: Optional[PathLike] = None,
                         adapter_options: Optional[dict] = None, stack_root: Optional[PathLike] = None,
                         steps: int = 50, guidance: float = 7.0, seed: int = 42, dtype: str = 'bfloat16',
                         device: Optional[str] = None, options: Optional[dict] = None) -> BokehBackend:
    """The Stage-1 backend of ``source`` (one of :data:`STAGE1_SOURCES`), with missing inputs named.

    Args:
        flux: local diffusers folder of FLUX.1-Kontext (``diffusion``).
        adapter: the official ``bokeh_lora.bin`` (or a ``.safetensors``) of the bokeh adapter (``diffusion``).
        adapter_options: :class:`~mmbokeh.generators.BokehFluxAdapter` options over :data:`OFFICIAL_ADAPTER`.
        stack_root: folder of official-layout stacks ``<root>/<photo stem>/defocus_stack`` (``cached``).
        steps, guidance, seed, dtype, device: of the diffusion pipeline (official 50, 7.0, 42, bfloat16).
        options: more backend arguments (e.g. ``max_sequence_length``, ``resolution='pyramid'``).
    """
    options = dict(options or {})
    if source == 'diffusion':
        if flux is None or not osp.isfile(osp.join(str(flux), 'model_index.json')):
            raise FileNotFoundError(
                f'Stage 1 (diffusion) needs --flux: a local diffusers folder of FLUX.1-Kontext-dev with a '
                f'model_index.json, got {flux!r} (download it once with huggingface-cli download '
                f'black-forest-labs/FLUX.1-Kontext-dev --local-dir DIR; nothing is downloaded here)')
        if adapter is None or not osp.isfile(str(adapter)):
            raise FileNotFoundError(f'Stage 1 (diffusion) needs --adapter: the official bokeh adapter weights '
                                    f'(bokeh_lora.bin), got {adapter!r}')
        return DiffusionBackend(pretrained=str(flux), adapter_weights=str(adapter),
                                adapter={**OFFICIAL_ADAPTER, **(adapter_options or {})}, num_inference_steps=steps,
                                guidance_scale=guidance, dtype=dtype, device=device, color_transfer=True, seed=seed,
                                **options)
    if source == 'physical':
        return build_backend(dict(type='physical', **options))
    if source == 'cached':
        if stack_root is None or not osp.isdir(str(stack_root)):
            raise FileNotFoundError(f'Stage 1 (cached) needs --stack-root: a folder of stacks in the official layout '
                                    f'<root>/<photo stem>/{STACK_DIR}/{INDEX_NAME}, got {stack_root!r}')
        return build_backend(dict(type='cached', root=str(stack_root), key_template='{stem}', **options))
    raise ValueError(f'stage1 must be one of {STAGE1_SOURCES}, got {source!r}')


class BokehDepthPipeline:
    """Photo -> Stage-1 bokeh stack -> Stage-2 fused depth, and the official per-photo outputs.

    Args:
        model: a Stage-2 estimator (``BokehDepthEstimator`` with a neck, or ``UniDepthV2`` with one), eval mode,
            with its data preprocessor (:func:`~mmbokeh.apis.init_model` builds one from a config).
        backend: the Stage-1 backend (:func:`build_stage1_backend`).
        stage1: its name, one of :data:`STAGE1_SOURCES` (named in errors and summaries).
        k_values: (S,) bokeh strengths (official 10, 20, 30).
        stage1_size, stage2_size: (h, w) of the Stage-1 reference and of the Stage-2 input (official 512, 518).
        seed: seed of Stage 1 (the diffusion generator, the focus draw of ``focus='random'``).
        focus: focus spec of the ``physical`` source (``mmbokeh.generators.focus``; default ``'foreground'``).
        record: extra summary entries (config and checkpoint paths, weights, ...).
    """

    def __init__(self, model: torch.nn.Module, backend: BokehBackend, *, stage1: str,
                 k_values: Sequence[float] = (10.0, 20.0, 30.0), stage1_size: Tuple[int, int] = (512, 512),
                 stage2_size: Tuple[int, int] = (518, 518), seed: int = 42, focus: Any = 'foreground',
                 record: Optional[Dict[str, Any]] = None) -> None:
        if stage1 not in STAGE1_SOURCES:
            raise ValueError(f'stage1 must be one of {STAGE1_SOURCES}, got {stage1!r}')
        if stage1 == 'physical' and getattr(getattr(model, 'decode_head', None), 'depth_type', 'metric') != 'metric':
            raise ValueError('Stage 1 (physical) renders from the model\'s own depth, which must be metric; this '
                             "model's decode_head.depth_type is 'relative'")
        self.model, self.backend, self.stage1 = model, backend, stage1
        self.k_values = np.asarray([float(k) for k in k_values], np.float32)
        if self.k_values.size == 0 or (self.k_values <= 0).any():
            raise ValueError(f'k_values must be one or more K > 0, got {list(k_values)}')
        self.stage1_size, self.stage2_size = tuple(stage1_size), tuple(stage2_size)
        self.seed, self.focus = int(seed), parse_focus(focus)
        self.record = dict(record or {})
        self.uses_camera = isinstance(model, UniDepthV2)  # camera-prompted decoder; DAv2 takes no camera

    # ------------------------------------------------------------------ Stage 2
    @torch.no_grad()
    def predict_depth(self, ref: np.ndarray, out_size: Tuple[int, int], frames: Optional[np.ndarray] = None,
                      k: Optional[np.ndarray] = None) -> np.ndarray:
        """Depth (h, w) float32 metres at ``out_size = (h, w)`` of ``ref`` (H, W, 3) uint8 BGR, fused with
        ``frames`` (S, H, W, 3) uint8 BGR at strengths ``k`` (S,) when given, through the data preprocessor at the
        Stage-2 size."""
        h2, w2 = self.stage2_size

        def prepare(img: np.ndarray) -> torch.Tensor:  # bilinear, half-pixel centres (torch align_corners=False)
            out = cv2.resize(img.astype(np.float32), (w2, h2), interpolation=cv2.INTER_LINEAR)
            return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))

        inputs = dict(img=prepare(ref))
        if frames is not None:
            inputs.update(stack=torch.stack([prepare(f) for f in frames]),
                          stack_k=torch.as_tensor(k, dtype=torch.float32))
        meta = dict(img_shape=(h2, w2), ori_shape=tuple(out_size))
        if self.uses_camera:
            meta['cam_intrinsics'] = default_camera((h2, w2))
        init_default_scope(getattr(self.model, 'cfg', {}).get('default_scope', 'mmbokeh'))
        batch = dict(inputs={key: [value] for key, value in inputs.items()},
                     data_samples=[DepthDataSample(metainfo=meta)])
        sample = self.model.test_step(batch)[0]
        return sample.pred_depth.data[0].float().cpu().numpy()

    # ------------------------------------------------------------------ Stage 1
    def run_stage1(self, photo: np.ndarray, name: str, stem: str) -> Stage1Result:
        """The stack of ``photo`` (H, W, 3) uint8 BGR; ``name`` (the photo's path) is used in errors, ``stem`` to
        find a cached stack. Raises ``RuntimeError`` naming Stage 1, its source and the cause on any failure."""
        start = time.perf_counter()
        try:
            ref = resize_photo(photo, self.stage1_size)
            request: Dict[str, Any] = dict(img=ref, rng=np.random.default_rng(self.seed), meta=dict(stem=stem))
            meta: Dict[str, Any] = dict(seed=self.seed)
            if self.backend.needs_k:
                request['k_values'] = self.k_values
            else:
                request['selection'] = KSelection(k_values=self.k_values)
            if self.backend.needs_depth:
                depth = self.predict_depth(ref, ref.shape[:2])
                focus = select_focus(self.focus, depth, request['rng'])
                request.update(depth=depth, depth_key='pred_depth', focus_dist=focus)
                meta.update(focus_dist=focus, focus=focus_description(self.focus))
            if isinstance(self.backend, DiffusionBackend):
                meta.update(guidance_scale=self.backend.guidance_scale,
                            num_inference_steps=self.backend.num_inference_steps,
                            prompt_template=self.backend.prompt_template, color_transfer=self.backend.color_transfer)
            rendered = self.backend.render(StackRequest(**request))
            frames = np.asarray(rendered.frames)
            if frames.shape != (len(self.k_values), ) + ref.shape or frames.dtype != np.uint8:
                raise ValueError(f'the backend returned frames {frames.shape} {frames.dtype}, expected '
                                 f'{(len(self.k_values), ) + ref.shape} uint8')
        except Exception as err:
            raise RuntimeError(f'Stage 1 ({self.stage1}) failed for {name}: {type(err).__name__}: {err}') from err
        return Stage1Result(ref, frames, np.asarray(rendered.k, np.float32), rendered.source, meta,
                            time.perf_counter() - start)

    # ------------------------------------------------------------------ one photo, all outputs
    def run(self, photo_path: PathLike, out_dir: PathLike, stem: Optional[str] = None) -> Dict[str, Any]:
        """Both stages on one photo; writes every output (:data:`OUTPUT_FILES`) under ``out_dir``, atomically,
        ``pipeline_summary.json`` last. Returns that summary."""
        photo_path, out_dir = Path(photo_path), Path(out_dir)
        stem = stem or photo_path.stem
        photo = cv2.imread(str(photo_path), cv2.IMREAD_COLOR)
        if photo is None:
            raise FileNotFoundError(f'{photo_path}: not a readable image')
        start = time.perf_counter()
        s1 = self.run_stage1(photo, str(photo_path), stem)
        t2 = time.perf_counter()
        depth = self.predict_depth(s1.ref, photo.shape[:2], s1.frames, s1.k)
        stage2_s = time.perf_counter() - t2
        return self.write_outputs(out_dir, photo_path, photo.shape[:2], s1, depth,
                                  dict(stage1_s=s1.seconds, stage2_s=stage2_s, total_s=time.perf_counter() - start))

    def write_outputs(self, out_dir: Path, photo_path: Path, photo_size: Tuple[int, int], s1: Stage1Result,
                      depth: np.ndarray, timings: Dict[str, float]) -> Dict[str, Any]:
        """Write the official files plus ``stack_grid.png``; paths inside the JSON files are relative to
        ``out_dir``. Returns the pipeline summary."""
        (h1, w1), (h, w) = s1.ref.shape[:2], photo_size
        k = [float(v) for v in s1.k]
        _write_png(out_dir / 'ref.png', s1.ref)
        stack_paths = [f'{STACK_DIR}/{i}.png' for i in range(len(k))]
        index_path = f'{STACK_DIR}/{INDEX_NAME}'
        write_stack(out_dir.parent, out_dir.name, s1.frames, k,
                    meta=dict(ref_image='ref.png', source_rgb='ref.png', size=[w1, h1], source_size=[w1, h1],
                              original_size=[w, h], method=f'mmbokeh_{self.stage1}', bokeh_source=s1.source,
                              **s1.meta))
        manifest = dict(dataset='bokehdepth', timestamp=datetime.now().strftime('%Y%m%d_%H%M%S'), ref='ref.png',
                        stack=stack_paths, k=k, stack_index=index_path, size=[w1, h1], source_size=[w1, h1])
        atomic_write_bytes(out_dir / 'manifest.jsonl', (json.dumps(manifest, ensure_ascii=False) + '\n').encode())
        _write_png(out_dir / 'stack_grid.png', make_stack_grid(np.concatenate([s1.ref[None], s1.frames]), [0.0] + k))
        buf = io.BytesIO()
        np.save(buf, depth.astype(np.float32))
        atomic_write_bytes(out_dir / 'depth.npy', buf.getvalue())
        valid = depth[np.isfinite(depth) & (depth > 0)]
        lo, hi = (np.percentile(valid, [5, 95]) if valid.size else (None, None))
        _write_png(out_dir / 'depth_color.png', colorize_depth(depth, vmin=lo, vmax=hi, channel_order='bgr'))
        h2, w2 = self.stage2_size
        stage2 = dict(ref_image='ref.png', stack_index=index_path, k_values=k, config=self.record.get('config'),
                      weights=self.record.get('checkpoint'), model=type(self.model).__name__,
                      input_size=[w2, h2], output_size=[w, h],
                      camera=default_camera((h2, w2)).tolist() if self.uses_camera else None,
                      depth_path='depth.npy', depth_color='depth_color.png',
                      depth_range_m=[float(valid.min()), float(valid.max())] if valid.size else None,
                      seconds=round(timings['stage2_s'], 3))
        _write_json(out_dir / 'stage2_summary.json', stage2)
        summary = dict(
            ref_image='ref.png', photo=str(photo_path), original_size=[w, h],
            stage1=dict(source=self.stage1, bokeh_source=s1.source, k_values=k, size=[w1, h1], stack_dir=STACK_DIR,
                        pretrained_model=self.record.get('flux'), adapter=self.record.get('adapter'),
                        stack_root=self.record.get('stack_root'), seconds=round(s1.seconds, 3), **s1.meta),
            stage2=dict(config=stage2['config'], weights=stage2['weights'], model=stage2['model'],
                        input_size=[w2, h2], depth_path='depth.npy', depth_color='depth_color.png'),
            stack_grid='stack_grid.png', timings={key: round(v, 3) for key, v in timings.items()},
            device=self.record.get('device'), mmbokeh_version=__version__)
        _write_json(out_dir / SUMMARY_NAME, summary)
        return summary


def _write_png(path: Path, img: np.ndarray) -> None:
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(img))
    if not ok:
        raise IOError(f'{path}: PNG encoding failed')
    atomic_write_bytes(path, buf.tobytes())


def _write_json(path: Path, obj: Dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(obj, f, indent=2)


def is_done(out_dir: PathLike) -> bool:
    """True when ``out_dir`` holds a finished photo (its ``pipeline_summary.json``, written last)."""
    return (Path(out_dir) / SUMMARY_NAME).is_file()


def run_pipeline(pipeline: BokehDepthPipeline, photos: Sequence[PathLike], stems: Sequence[str], out_root: PathLike,
                 overwrite: bool = False, progress: bool = True) -> List[Dict[str, Any]]:
    """Run ``pipeline`` on each photo into ``<out_root>/<stem>/``, skipping finished ones unless ``overwrite``
    (resumable); a tqdm progress bar when ``progress``. Returns the summaries of the photos run now."""
    from tqdm import tqdm
    todo = [(p, s) for p, s in zip(photos, stems) if overwrite or not is_done(Path(out_root) / s)]
    return [pipeline.run(p, Path(out_root) / s, stem=s)
            for p, s in tqdm(todo, desc='BokehDepth', unit='photo', disable=not progress or len(todo) < 2)]


def build_pipeline(config: PathLike, checkpoint: Optional[PathLike], *, stage1: str,
                   k_values: Sequence[float] = (10.0, 20.0, 30.0), stage1_size: int = 512, stage2_size: int = 518,
                   seed: int = 42, focus: Any = 'foreground', device: str = 'cpu', flux: Optional[PathLike] = None,
                   adapter: Optional[PathLike] = None, adapter_options: Optional[dict] = None,
                   stack_root: Optional[PathLike] = None, steps: int = 50, guidance: float = 7.0,
                   dtype: str = 'bfloat16', stage1_options: Optional[dict] = None,
                   cfg_options: Optional[dict] = None) -> BokehDepthPipeline:
    """A :class:`BokehDepthPipeline` from a Stage-2 config + checkpoint and the Stage-1 settings (square sizes in
    pixels; see :func:`build_stage1_backend`). Stage-1 inputs are checked before the Stage-2 model is loaded."""
    if checkpoint is not None and not osp.isfile(str(checkpoint)):
        raise FileNotFoundError(f'Stage 2 checkpoint {checkpoint} does not exist (a .pth of the config\'s model, e.g. '
                                'from tools/convert/bokehdepth_to_mmbokeh.py)')
    backend = build_stage1_backend(stage1, flux=flux, adapter=adapter, adapter_options=adapter_options,
                                   stack_root=stack_root, steps=steps, guidance=guidance, seed=seed, dtype=dtype,
                                   device=device, options=stage1_options)
    model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
    if getattr(model, 'neck', None) is None:
        raise ValueError(f'{config}: the Stage-2 model has no stack-fusing neck, so it would ignore the bokeh stack; '
                         'use a BokehDepth config (configs/bokehdepth/*.py or configs/unidepth_v2/*dsfa*.py)')
    record = dict(config=str(config), checkpoint=None if checkpoint is None else str(checkpoint), device=device,
                  flux=None if flux is None else str(flux), adapter=None if adapter is None else str(adapter),
                  stack_root=None if stack_root is None else str(stack_root))
    return BokehDepthPipeline(model, backend, stage1=stage1, k_values=k_values, stage1_size=(stage1_size, ) * 2,
                              stage2_size=(stage2_size, ) * 2, seed=seed, focus=focus, record=record)


__all__ = ['BokehDepthPipeline', 'OFFICIAL_ADAPTER', 'STAGE1_SOURCES', 'Stage1Result', 'build_pipeline',
           'build_stage1_backend', 'default_camera', 'is_done', 'resize_photo', 'run_pipeline']
