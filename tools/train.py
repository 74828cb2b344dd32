"""Train a model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v]``.

Flags follow mmdet 3.x's ``tools/train.py``. Distributed: ``bash tools/dist_train.sh CONFIG NPROC`` (torchrun;
works on CPU with gloo).
"""
import argparse
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmbokeh  # noqa: F401  (registers modules and the checkpoint allow-list)
from mmbokeh.utils import (
    amp_fallback_without_cuda,
    check_load_from,
    latest_complete_checkpoint,
    load_tool_config,
    setup_cpu_distributed,
    teardown_distributed,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a depth estimator')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False, help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr with the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest one in the work dir if none '
                        'is given')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr.base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        # the newest complete checkpoint: a truncated one (killed while saving) is skipped, and said so
        latest, broken = latest_complete_checkpoint(cfg.work_dir)
        for path in broken:
            print(f'--resume: skipping {path}: incomplete or unreadable checkpoint', file=sys.stderr)
        if latest is None and broken:
            print(f'--resume: no complete checkpoint in {cfg.work_dir}; training from the start', file=sys.stderr)
        cfg.resume, cfg.load_from = latest is not None, latest
        if latest is not None:
            print(f'--resume: resuming from {latest}', file=sys.stderr)
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    check_load_from(cfg)
    amp_fallback_without_cuda(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    # mmengine's Runner, or the config's `runner_type` (e.g. FlexibleRunner with an FSDP strategy), as mmdet does
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    del runner  # frees the DDP wrapper and its process group before the teardown
    teardown_distributed()


if __name__ == '__main__':
    main()
