"""Make bokeh stacks offline: ``python tools/make_bokeh_stacks.py CONFIG --out DIR [--cfg-options k=v]``.

The config names a ``dataset`` (its pipeline must give ``img``, plus ``gt_depth`` or the generator's
``depth_key``) and a ``generator`` (a ``BokehStackGenerator`` config; its backend is usually ``physical`` or
``diffusion``). Optionally ``depth_model = dict(config=..., checkpoint=..., key='pred_depth')`` predicts depth with
an mmbokeh model first (physical stacks without ground truth, legitimate for monocular benchmarks), and
``stack_key`` overrides the sample naming (see ``mmbokeh.generators.sample_key``).

Output: the official BokehDepth layout ``DIR/<sample>/defocus_stack/{i}.png`` + ``stack_index.json`` (read it back
with the ``cached`` backend) and ``DIR/manifest.jsonl`` at the end.

- Resumable: finished samples (index present, all frames present, stored K equal to the generator's fixed K,
  ``KSelection.fixed()``) are skipped; every file is written to a temporary file and renamed into place, the index
  last, so an interrupted run never leaves a finished-looking sample or a partial file under a final name (a hard
  kill can leave a hidden ``.<name>.*.tmp*`` file, removed when the sample is redone and by the final sweep).
- Distributed: under ``torchrun --nproc_per_node W`` rank r takes samples r, r + W, ... (gloo on CPU, NCCL on GPUs,
  one GPU per rank); rank 0 writes the manifest after all ranks finish. Outputs do not depend on W when the
  generator has a seed.
"""
import argparse
import os
import signal
import sys
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmbokeh  # noqa: F401
from mmbokeh.datasets.transforms.bokeh_stack import BokehStackGenerator
from mmbokeh.generators import (
    STACK_DIR,
    is_complete,
    remove_temporaries,
    sample_key,
    stack_dir,
    write_manifest,
    write_stack,
)
from mmbokeh.registry import DATASETS, TRANSFORMS


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Render bokeh stacks of a dataset into the official layout')
    parser.add_argument('config', help='config with `dataset` and `generator` (see configs/bokeh_generator/)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--max-samples', type=int, default=None, help='only the first N samples of the dataset')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def _dist_setup() -> Tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', '0')))
        dist.init_process_group('nccl' if torch.cuda.is_available() else 'gloo')
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _depth_predictor(cfg: Optional[dict]) -> Optional[Callable[[Dict], None]]:
    """A function adding ``results[key]`` = depth predicted by an mmbokeh model, or None."""
    if not cfg:
        return None
    from mmbokeh.apis import inference_model, init_model
    device = cfg.get('device') or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = init_model(cfg['config'], cfg.get('checkpoint'), device=device)
    key = cfg.get('key', 'pred_depth')

    def predict(results: Dict) -> None:
        img = np.clip(results['img'], 0, 255).astype(np.uint8)
        results[key] = inference_model(model, img)[0].pred_depth.data[0].cpu().numpy().astype(np.float32)

    return predict


def _index_meta(results: Dict, cfg: Config) -> Dict:
    meta = dict(bokeh_source=results['bokeh_source'], size=[int(results['img'].shape[1]),
                                                            int(results['img'].shape[0])],
                method=f'mmbokeh:{results["bokeh_source"]}', source_rgb=results.get('img_path'),
                source_depth=results.get('depth_path'))
    for key in ('focus_dist', 'bokeh_focus'):
        if key in results:
            meta[key] = results[key]
    backend = cfg.generator.get('backend')
    if isinstance(backend, dict) and backend.get('type') == 'diffusion':
        meta.update(prompt_template=backend.get('prompt_template'), guidance_scale=backend.get('guidance_scale'),
                    num_inference_steps=backend.get('num_inference_steps'))
    if cfg.get('depth_model'):
        meta['depth_model'] = dict(config=cfg.depth_model.get('config'), checkpoint=cfg.depth_model.get('checkpoint'))
    return {k: v for k, v in meta.items() if v is not None}


def _sweep_temporaries(out: str) -> None:
    """Remove temporaries left by killed writers anywhere under ``out`` (all ranks have finished)."""
    remove_temporaries(out)
    for dirpath, _, _ in os.walk(out):
        if os.path.basename(dirpath) == STACK_DIR:
            remove_temporaries(dirpath)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so temporaries are removed
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for key in ('dataset', 'generator'):
        if key not in cfg:
            raise KeyError(f'{args.config} must define `{key}` (see configs/bokeh_generator/)')
    init_default_scope(cfg.get('default_scope', 'mmbokeh'))
    rank, world = _dist_setup()
    dataset = DATASETS.build(cfg.dataset)
    generator = TRANSFORMS.build(cfg.generator)
    if not isinstance(generator, BokehStackGenerator):
        raise TypeError(f'`generator` must build a BokehStackGenerator, got {type(generator).__name__}')
    predict = _depth_predictor(cfg.get('depth_model'))
    data_root = getattr(dataset, 'data_root', None) or None
    fixed_k = generator.k_selection.fixed()
    total = len(dataset) if args.max_samples is None else min(len(dataset), args.max_samples)
    mine = range(rank, total, world)
    done = skipped = 0
    from tqdm import tqdm
    for idx in tqdm(mine, desc=f'bokeh stacks (rank {rank}/{world})', disable=args.no_progress or rank != 0,
                    file=sys.stdout):
        results = dataset.pipeline(dataset.get_data_info(idx))
        if results is None:
            raise ValueError(f'the dataset pipeline dropped sample {idx}')
        results.setdefault('sample_idx', idx)
        key = sample_key(results, data_root, cfg.get('stack_key'))
        folder = stack_dir(args.out, key)
        if is_complete(folder, fixed_k):
            skipped += 1
            continue
        remove_temporaries(folder)
        if predict is not None:
            predict(results)
        results = generator(results)
        write_stack(args.out, key, results['bokeh_stack'], results['bokeh_k'], _index_meta(results, cfg))
        done += 1
    print(f'rank {rank}: {done} samples written, {skipped} already finished')
    if dist.is_initialized():
        dist.barrier()
    if rank == 0:
        _sweep_temporaries(args.out)
        path = write_manifest(args.out)
        print(f'manifest: {path}')
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
