"""ExportAdapterHook: write the trained bokeh adapter as the official ``bokeh_lora.bin`` when training ends."""
import contextlib
import os.path as osp
from typing import Iterator

import torch.nn as nn
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmbokeh.registry import HOOKS


@contextlib.contextmanager
def _full_parameters(model: nn.Module) -> Iterator[None]:
    """Gather FSDP-sharded parameters (full values on rank 0, offloaded to CPU); a no-op for other models."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    if isinstance(model, FullyShardedDataParallel):
        with FullyShardedDataParallel.summon_full_params(model, writeback=False, rank0_only=True,
                                                         offload_to_cpu=True):
            yield
    else:
        yield


@HOOKS.register_module()
class ExportAdapterHook(Hook):
    """After training, save the model's ``adapter`` (a :class:`~mmbokeh.generators.diffusion.BokehFluxAdapter`)
    with the official key names to ``<work_dir>/<filename>``: the file ``DiffusionBackend(adapter_weights=...)``
    and the official BokehDepth code load. ``.safetensors`` names write safetensors, others a torch pickle.

    Args:
        filename: file name inside the work dir (official ``bokeh_lora.bin``).
    """

    priority = 'VERY_LOW'

    def __init__(self, filename: str = 'bokeh_lora.bin') -> None:
        self.filename = filename

    def after_train(self, runner) -> None:
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        if not hasattr(module, 'adapter'):
            raise AttributeError(f'ExportAdapterHook needs a model with an `adapter` (BokehAdapterModel), got '
                                 f'{type(module).__name__}')
        path = osp.join(runner.work_dir, self.filename)
        with _full_parameters(model):
            if is_main_process():
                module.adapter.save_weights(path)
        barrier()
        runner.logger.info(f'bokeh adapter weights (official key names) written to {path}')
