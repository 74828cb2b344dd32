"""Predict depth for an image or a folder of images.

    python tools/infer.py CONFIG CHECKPOINT IMG_OR_DIR --out DIR [--device cpu] [--batch-size 4]

For each image writes ``<stem>.npy`` (float32 depth in metres, original resolution) and ``<stem>.png`` (coloured
depth), each atomically; models that also predict a defocus map (SDNet) add ``<stem>_defocus.npy`` (0 = in focus, 1
= the head's ``coc_norm_px``) and ``<stem>_defocus.png``; images whose outputs exist already are skipped unless
``--overwrite``. A folder's sub-folders are mirrored under ``--out``; images that share a stem in one folder
(``a.png``, ``a.jpg``) are told apart by their extension (``a_png``, ``a_jpg``); files under ``--out`` are never
taken as inputs.

Fused depth through both BokehDepth stages (a bokeh stack generated from the photo, then the stack-fusing model):
``demo/bokehdepth_demo.py`` (``docs/bokehdepth.md``, "From a photograph: both stages in one command").
"""
import argparse
import io
from pathlib import Path

import cv2
import numpy as np
from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from mmbokeh.apis import inference_model, init_model
from mmbokeh.utils import atomic_write_bytes, list_images, output_stems
from mmbokeh.visualization import colorize_depth


def save_map(values: np.ndarray, out_dir: Path, stem: str, vmin=None, vmax=None) -> None:
    """``<stem>.npy`` (float32) and ``<stem>.png`` (coloured; pixels <= 0 black unless ``vmin`` is given)."""
    buf = io.BytesIO()
    np.save(buf, values.astype(np.float32))
    atomic_write_bytes(out_dir / f'{stem}.npy', buf.getvalue())
    shown = values if vmin is None else np.maximum(values, vmin + 1e-6)
    png = cv2.imencode('.png', colorize_depth(shown, vmin=vmin, vmax=vmax, channel_order='bgr'))[1]
    atomic_write_bytes(out_dir / f'{stem}.png', png.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('src', help='an image or a folder (searched recursively)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, e.g. model.test_cfg.focus_dist=2.0 for SDNet on your own photo')
    args = parser.parse_args()
    src, out_dir = Path(args.src), Path(args.out)
    images = list_images(src, exclude=out_dir)
    root = src if src.is_dir() else src.parent
    stems = output_stems(images, root)
    todo = [(p, s) for p, s in zip(images, stems) if args.overwrite or not (out_dir / f'{s}.png').exists()]
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    bar = ProgressBar(len(todo))
    for i in range(0, len(todo), args.batch_size):
        chunk = todo[i:i + args.batch_size]
        for (_, stem), sample in zip(chunk, inference_model(model, [str(p) for p, _ in chunk])):
            save_map(sample.pred_depth.data[0].cpu().numpy(), out_dir, stem)
            if 'pred_defocus' in sample:
                save_map(sample.pred_defocus.data[0].cpu().numpy(), out_dir, f'{stem}_defocus', vmin=0.0, vmax=1.0)
            bar.update()
    print(f'\n{len(todo)} predicted, {len(images) - len(todo)} already done -> {out_dir}')


if __name__ == '__main__':
    main()
