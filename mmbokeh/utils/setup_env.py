"""Run-time set-up shared by the tools: CPU distributed training and early checks of what a config needs."""
import gc
import os
from pathlib import Path

import torch
import torch.distributed as dist
from mmengine.config import Config

CONVERT_HINT = {
    'dav2': 'python tools/convert/dav2_to_mmbokeh.py <official depth_anything_v2_*.pth> {path}',
    'bokehdepth': 'python tools/convert/bokehdepth_to_mmbokeh.py <official DAV2_dsfa_release.pth> {path}',
}


def load_tool_config(args) -> Config:
    """Config of ``tools/train.py`` / ``tools/test.py``: ``args.config`` with ``--cfg-options`` merged, the
    launcher recorded and the work dir from ``--work-dir``, the config, or ``./work_dirs/<config name>``; also sets
    ``LOCAL_RANK`` from ``--local-rank`` for launchers that pass it as an argument."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = os.path.join('./work_dirs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let mmengine's ``pytorch`` launcher run on machines without a GPU.

    mmengine's launcher calls ``torch.cuda.set_device`` and wraps the model with ``device_ids=[LOCAL_RANK]``, both of
    which fail without CUDA. Here we initialise the process group with gloo first (mmengine then skips its own
    initialisation) and wrap the model with ``device_ids=None`` as DDP requires for CPU modules.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def check_load_from(cfg: Config) -> None:
    """Fail in seconds, with the command that makes it, when the config's ``load_from`` checkpoint is missing.

    The command is the config's ``load_from_hint`` (a sentence) if set, else the converter of ``load_from_kind``
    ('dav2' or 'bokehdepth')."""
    path = cfg.get('load_from')
    if not path or cfg.get('resume') or '://' in str(path) or Path(path).is_file():
        return
    hint = cfg.get('load_from_hint')
    if hint is None:
        kind = cfg.get('load_from_kind', 'dav2')
        command = CONVERT_HINT.get(kind, CONVERT_HINT['dav2']).format(path=path)
        hint = 'Convert the official weights with\n    ' + command
    raise FileNotFoundError(
        f"load_from checkpoint '{path}' does not exist (cwd {os.getcwd()}). {hint}\n"
        f"or pass --cfg-options load_from=<path> (load_from=None trains from scratch).")


def amp_fallback_without_cuda(cfg: Config) -> bool:
    """Configs may ask for ``AmpOptimWrapper`` (bf16 on GPU); mmengine's AMP wrapper needs a GPU. Without one,
    train in fp32 with the plain wrapper and say so. Returns True if the wrapper was changed."""
    wrapper = cfg.get('optim_wrapper', {})
    if wrapper.get('type') != 'AmpOptimWrapper' or torch.cuda.is_available():
        return False
    from mmengine.logging import print_log
    print_log('AmpOptimWrapper needs a GPU: training in fp32 with OptimWrapper on this machine', logger='current',
              level=30)
    wrapper['type'] = 'OptimWrapper'
    for key in ('dtype', 'loss_scale', 'use_fsdp'):
        wrapper.pop(key, None)
    return True


def teardown_distributed() -> None:
    """Destroy the default process group, if any, before the interpreter exits: gloo's threads still running at exit
    can abort the process ("terminate called without an active exception") after a successful run.

    Call it after dropping the runner: the DDP wrapper's reducer holds the process group, and collecting it here,
    while the interpreter is whole, keeps its destructor out of interpreter finalization."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()
