"""Test-only instrumentation of adapter training runs (imported by the training subprocesses of
test_adapter_training.py through the config's ``custom_imports``; never by the library)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

BASE_MODULES = ('transformer', 'vae', 'text_encoder', 'text_encoder_2')


class DumpBaseStateHook(Hook):
    """After training, save every frozen base module's state (processors excluded: they are the adapter) to
    ``<work_dir>/base_state_rank<r>.pth`` as ``{module name: state dict}``."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {name: {k: v.detach().cpu().clone() for k, v in getattr(model, name).state_dict().items()
                        if '.processor.' not in k} for name in BASE_MODULES}
        torch.save(state, osp.join(runner.work_dir, f'base_state_rank{get_rank()}.pth'))
