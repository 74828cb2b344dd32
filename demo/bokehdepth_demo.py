"""From a photograph to fused depth through both BokehDepth stages (the official ``pipeline.py``, in one command).

    python demo/bokehdepth_demo.py PHOTO_OR_DIR STAGE2_CONFIG STAGE2_CHECKPOINT --out DIR \\
        --stage1 diffusion --flux checkpoints/FLUX.1-Kontext-dev --adapter checkpoints/bokeh_lora.bin
    python demo/bokehdepth_demo.py PHOTO_OR_DIR STAGE2_CONFIG STAGE2_CHECKPOINT --out DIR --stage1 physical
    python demo/bokehdepth_demo.py PHOTO_OR_DIR STAGE2_CONFIG STAGE2_CHECKPOINT --out DIR \\
        --stage1 cached --stack-root STACKS

Stage 1 (``--stage1``): ``diffusion`` generates the bokeh stack with FLUX.1-Kontext + the official adapter (local
weights only, colour-matched to the photo); ``physical`` renders it from the Stage-2 model's own depth prediction
without a stack (never ground truth); ``cached`` reads ``<stack-root>/<photo stem>/defocus_stack``. Stage 2: the
stack-fusing model of STAGE2_CONFIG (``configs/bokehdepth/*.py``, ``configs/unidepth_v2/*dsfa*.py``).

Writes per photo ``<out>/<photo stem>/``: ``ref.png``, ``defocus_stack/{i}.png`` + ``stack_index.json``,
``manifest.jsonl``, ``depth.npy`` (float32 metres at the photo's size), ``depth_color.png``, ``stack_grid.png``,
``stage2_summary.json`` and ``pipeline_summary.json`` (written last). A folder is searched recursively; photos with a
``pipeline_summary.json`` are skipped unless ``--overwrite``. See ``docs/bokehdepth.md``, "From a photograph: both
stages in one command".
"""
import argparse
import sys
from pathlib import Path

from mmengine.config import DictAction

from mmbokeh.apis import STAGE1_SOURCES, build_pipeline, is_done, run_pipeline
from mmbokeh.utils import list_images, output_stems


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='a photo or a folder of photos (searched recursively)')
    parser.add_argument('config', help='Stage-2 config (a model with a stack-fusing neck)')
    parser.add_argument('checkpoint', help='Stage-2 checkpoint (.pth)')
    parser.add_argument('--out', required=True, help='output folder: one sub-folder per photo')
    parser.add_argument('--stage1', choices=STAGE1_SOURCES, default='diffusion',
                        help='where the bokeh stack comes from')
    parser.add_argument('--flux', help='diffusion: local diffusers folder of FLUX.1-Kontext-dev')
    parser.add_argument('--adapter', help='diffusion: the official bokeh adapter weights (bokeh_lora.bin)')
    parser.add_argument('--adapter-options', nargs='+', action=DictAction, default={},
                        help='diffusion: BokehFluxAdapter options over the official ones, e.g. lora_rank=128')
    parser.add_argument('--stack-root', help='cached: folder of <photo stem>/defocus_stack stacks')
    parser.add_argument('--k', type=float, nargs='+', default=[10.0, 20.0, 30.0], help='bokeh strengths K')
    parser.add_argument('--device', default='cpu', help='device of both stages')
    parser.add_argument('--stage1-size', type=int, default=512, help='side of the square Stage-1 reference (px)')
    parser.add_argument('--stage2-size', type=int, default=518, help='side of the square Stage-2 input (px)')
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--steps', type=int, default=50, help='diffusion: denoising steps')
    parser.add_argument('--guidance', type=float, default=7.0, help='diffusion: guidance scale')
    parser.add_argument('--dtype', default='bfloat16', help='diffusion: pipeline dtype (bfloat16, float16, float32)')
    parser.add_argument('--focus', default='foreground', help="physical: focus mode ('foreground', 'median') or metres")
    parser.add_argument('--stage1-options', nargs='+', action=DictAction, default={},
                        help='more Stage-1 backend arguments, e.g. max_sequence_length=512 or resolution=pyramid')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override Stage-2 config entries')
    parser.add_argument('--overwrite', action='store_true', help='redo photos that are already finished')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    src, out = Path(args.src), Path(args.out)
    photos = list_images(src, exclude=out)
    stems = output_stems(photos, src if src.is_dir() else src.parent)
    todo = sum(args.overwrite or not is_done(out / s) for s in stems)
    if todo == 0:
        print(f'all {len(photos)} photos already done in {out} (--overwrite redoes them)')
        return 0
    focus = float(args.focus) if args.focus.replace('.', '', 1).isdigit() else args.focus
    pipeline = build_pipeline(args.config, args.checkpoint, stage1=args.stage1, k_values=args.k,
                              stage1_size=args.stage1_size, stage2_size=args.stage2_size, seed=args.seed,
                              focus=focus, device=args.device, flux=args.flux, adapter=args.adapter,
                              adapter_options=args.adapter_options, stack_root=args.stack_root, steps=args.steps,
                              guidance=args.guidance, dtype=args.dtype, stage1_options=args.stage1_options,
                              cfg_options=args.cfg_options)
    done = run_pipeline(pipeline, photos, stems, out, overwrite=args.overwrite)
    print(f'{len(done)} photos through both stages, {len(photos) - len(done)} already done -> {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
