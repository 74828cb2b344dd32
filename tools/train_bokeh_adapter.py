"""Train the Stage-1 bokeh adapter: ``python tools/train_bokeh_adapter.py CONFIG [--work-dir DIR] [--cfg-options]``.

The base FLUX.1-Kontext model stays frozen; only the adapter (K embedding, K key/value LoRA, query/key LoRA) learns,
on pairs (sharp image, physical render at K ~ U[1, 30]) from the config's ``train_dataloader``. The weights are
written with the official key names (``bokeh_lora.bin``), loadable by the ``diffusion`` backend and by the
official BokehDepth code. See ``configs/bokeh_generator/flux_kontext_adapter.py``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

import mmbokeh  # noqa: F401
import mmbokeh.datasets  # noqa: F401  (registers the datasets and transforms)
import mmbokeh.datasets.transforms.bokeh_stack  # noqa: F401  (BokehStackGenerator)
from mmbokeh.generators.diffusion import train_adapter


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train the BokehDepth Stage-1 adapter on FLUX.1-Kontext')
    parser.add_argument('config', help='training config (see configs/bokeh_generator/flux_kontext_adapter.py)')
    parser.add_argument('--work-dir', help='where logs and weights go (default ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for key in ('pretrained', 'train_dataloader', 'max_iters'):
        if key not in cfg:
            raise KeyError(f'{args.config} must define `{key}`')
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work_dir, exist_ok=True)
    cfg.dump(osp.join(work_dir, osp.basename(args.config)))
    logger = MMLogger.get_instance('mmbokeh_adapter', log_file=osp.join(work_dir, 'train.log'), log_level='INFO')
    out = train_adapter(cfg, work_dir, logger)
    logger.info(f'final loss {out["losses"][-1]:.5f}; adapter weights: {osp.join(work_dir, "bokeh_lora.bin")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
