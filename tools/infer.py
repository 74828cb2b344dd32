"""Predict depth for an image or a folder of images.

    python tools/infer.py CONFIG CHECKPOINT IMG_OR_DIR --out DIR [--device cpu] [--batch-size 4]

For each image writes ``<stem>.npy`` (float32 depth in metres, original resolution) and ``<stem>.png`` (coloured
depth), each atomically; images whose outputs exist already are skipped unless ``--overwrite``. A folder's
sub-folders are mirrored under ``--out``; images that share a stem in one folder (``a.png``, ``a.jpg``) are told
apart by their extension (``a_png``, ``a_jpg``); files under ``--out`` are never taken as inputs.

Fused depth through both BokehDepth stages (a bokeh stack generated from the photo, then the stack-fusing model):
``demo/bokehdepth_demo.py`` (``docs/bokehdepth.md``, "From a photograph: both stages in one command").
"""
import argparse
import io
from pathlib import Path

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mmbokeh.apis import inference_model, init_model
from mmbokeh.utils import atomic_write_bytes, list_images, output_stems
from mmbokeh.visualization import colorize_depth


def save_depth(depth: np.ndarray, out_dir: Path, stem: str) -> None:
    buf = io.BytesIO()
    np.save(buf, depth.astype(np.float32))
    atomic_write_bytes(out_dir / f'{stem}.npy', buf.getvalue())
    png = cv2.imencode('.png', colorize_depth(depth, channel_order='bgr'))[1]
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
    args = parser.parse_args()
    src, out_dir = Path(args.src), Path(args.out)
    images = list_images(src, exclude=out_dir)
    root = src if src.is_dir() else src.parent
    stems = output_stems(images, root)
    todo = [(p, s) for p, s in zip(images, stems) if args.overwrite or not (out_dir / f'{s}.png').exists()]
    model = init_model(args.config, args.checkpoint, device=args.device)
    bar = ProgressBar(len(todo))
    for i in range(0, len(todo), args.batch_size):
        chunk = todo[i:i + args.batch_size]
        for (_, stem), sample in zip(chunk, inference_model(model, [str(p) for p, _ in chunk])):
            save_depth(sample.pred_depth.data[0].cpu().numpy(), out_dir, stem)
            bar.update()
    print(f'\n{len(todo)} predicted, {len(images) - len(todo)} already done -> {out_dir}')


if __name__ == '__main__':
    main()
