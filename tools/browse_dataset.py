"""Save what a dataset's pipeline yields: ``python tools/browse_dataset.py CONFIG [--output-dir DIR]
[--max-samples N] [--phase train|val|test] [--cfg-options k=v ...]``.

For each sample ``i`` it writes, atomically, into ``DIR`` (default ``work_dirs/browse/<config name>``):

- ``{i:06d}_<name>_img.png``: the packed image;
- ``{i:06d}_<name>_depth.png``: the ground truth coloured with ``colorize_depth`` (turbo, near = blue), if any;
- ``{i:06d}_<name>_stack.png``: the stack as a grid, each frame labelled with its K (``K=10``) or focus distance
  (``f=0.30m``; normalised focus without the unit), if any.

``<name>`` is ``mmbokeh.utils.output_stem`` of the image path.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from tqdm import tqdm

import mmbokeh  # noqa: F401
from mmbokeh.registry import DATASETS
from mmbokeh.utils import atomic_write_bytes, output_stem
from mmbokeh.visualization import colorize_depth, make_stack_grid

PHASES = ('train', 'val', 'test')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Save the images, depths and stacks a dataset pipeline yields')
    parser.add_argument('config', help='config with {train,val,test}_dataloader')
    parser.add_argument('--output-dir', default=None, help='output folder (default work_dirs/browse/<config name>)')
    parser.add_argument('--max-samples', type=int, default=8, help='samples to save (default 8)')
    parser.add_argument('--phase', choices=PHASES, default='train', help='which dataloader (default train)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def _write_png(path: str, image_bgr: np.ndarray) -> str:
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(image_bgr))
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    atomic_write_bytes(path, buf.tobytes())
    return path


def _hwc_uint8(chw: torch.Tensor) -> np.ndarray:
    """[3, H, W] (or [S, 3, H, W]) tensor in [0, 255] -> (H, W, 3) (or (S, H, W, 3)) uint8, channel order kept."""
    array = chw.detach().cpu().float().numpy()
    array = np.moveaxis(array, -3, -1)
    return np.clip(np.round(array), 0, 255).astype(np.uint8)


def stack_label(inputs: Dict[str, torch.Tensor], metainfo: Dict) -> str:
    """``make_stack_grid`` label of a packed sample: 'k' for bokeh stacks, 'focus' (metres) or a unitless template
    for focal stacks whose ``focus_units`` is not metres."""
    if 'stack_k' in inputs:
        return 'k'
    return 'focus' if metainfo.get('focus_units', 'm') == 'm' else 'f={:.2f}'


def save_sample(packed: Dict, index: int, output_dir: str) -> List[str]:
    """Write the image, the coloured depth and the stack grid of one packed sample; return the paths written."""
    inputs, sample = packed['inputs'], packed['data_samples']
    if isinstance(inputs, torch.Tensor):
        inputs = dict(img=inputs)
    meta = sample.metainfo
    name = f'{index:06d}_{output_stem(str(meta.get("img_path", f"sample_{index}")))}'
    written = [_write_png(osp.join(output_dir, f'{name}_img.png'), _hwc_uint8(inputs['img']))]
    if 'gt_depth' in sample:
        depth = colorize_depth(sample.gt_depth.data, channel_order='bgr')
        written.append(_write_png(osp.join(output_dir, f'{name}_depth.png'), depth))
    if 'stack' in inputs:
        values = inputs.get('stack_k', inputs.get('stack_focus'))
        grid = make_stack_grid(_hwc_uint8(inputs['stack']), values, label=stack_label(inputs, meta))
        written.append(_write_png(osp.join(output_dir, f'{name}_stack.png'), grid))
    return written


def browse(cfg: Config, phase: str, output_dir: str, max_samples: int, progress: bool = True) -> List[str]:
    """Build ``{phase}_dataloader.dataset`` and save its first ``max_samples`` samples; return the paths."""
    loader = cfg.get(f'{phase}_dataloader')
    if not loader or 'dataset' not in loader:
        raise KeyError(f'the config has no {phase}_dataloader.dataset')
    init_default_scope(cfg.get('default_scope', 'mmbokeh') or 'mmbokeh')
    dataset = DATASETS.build(loader['dataset'])
    count = len(dataset) if max_samples is None or max_samples < 0 else min(max_samples, len(dataset))
    written = []
    for index in tqdm(range(count), desc=f'browse {phase}', unit='sample', disable=not progress):
        written += save_sample(dataset[index], index, output_dir)
    return written


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    output_dir = args.output_dir or osp.join('work_dirs', 'browse', osp.splitext(osp.basename(args.config))[0])
    written = browse(cfg, args.phase, output_dir, args.max_samples, progress=not args.no_progress)
    print(f'wrote {len(written)} images to {output_dir}')


if __name__ == '__main__':
    main()
