"""Does a fused model use its bokeh stack? Validation metrics with the true stack and with two stacks that carry no
defocus information about the image: each scene's stack replaced by its reference image, and the stacks of the
batch rolled by one scene.

    python tools/analysis/stack_sensitivity.py configs/bokehdepth/dav2-s_synthetic.py work_dirs/.../iter_1200.pth

A model that reads defocus gets worse without its own stack; equal rows mean the neck ignores the stack.
"""
import argparse
from typing import Dict, List

import torch
from mmengine.config import DictAction
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from mmbokeh.apis import init_model

MODES = ('stack', 'reference', 'rolled')


def replace_stacks(data_samples: List, inputs: torch.Tensor, mode: str) -> None:
    """In place: keep (``'stack'``), replace each stack by copies of its reference image (``'reference'``), or give
    each sample the stack of the next one in the batch (``'rolled'``). Stacks must be normalised like ``inputs``."""
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    stacks = [s.bokeh_stack for s in data_samples]
    for i, sample in enumerate(data_samples):
        if mode == 'reference':
            sample.bokeh_stack = inputs[i][None].expand_as(stacks[i]).clone()
        elif mode == 'rolled':
            sample.bokeh_stack = stacks[(i + 1) % len(stacks)]


@torch.no_grad()
def stack_sensitivity(cfg, model: torch.nn.Module, batch_size: int = 8) -> Dict[str, Dict[str, float]]:
    """Metrics of ``cfg.val_evaluator`` on ``cfg.val_dataloader`` for each of :data:`MODES` (one pass over the
    data: each batch is rendered and preprocessed once and predicted once per mode)."""
    if batch_size < 2:
        raise ValueError('batch_size must be >= 2 so that rolled stacks come from other scenes')
    loader = Runner.build_dataloader(dict(cfg.val_dataloader, batch_size=batch_size, num_workers=0,
                                          persistent_workers=False))
    evaluators = {mode: Evaluator(cfg.val_evaluator) for mode in MODES}
    for evaluator in evaluators.values():
        evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        samples = data['data_samples']
        if 'bokeh_stack' not in samples[0]:
            raise ValueError('the val pipeline makes no bokeh_stack: add a BokehStackGenerator to it')
        stacks = [s.bokeh_stack for s in samples]
        for mode, evaluator in evaluators.items():
            for sample, stack in zip(samples, stacks):
                sample.bokeh_stack = stack
            replace_stacks(samples, data['inputs'], mode)
            evaluator.process(model(data['inputs'], samples, mode='predict'), batch)
    return {mode: evaluator.evaluate(len(loader.dataset)) for mode, evaluator in evaluators.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings in the config')
    args = parser.parse_args()
    model = init_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
    results = stack_sensitivity(model.cfg, model, args.batch_size)
    keys = list(results['stack'])
    print('mode         ' + ' '.join(f'{k:>9}' for k in keys))
    for mode, metrics in results.items():
        print(f'{mode:<12} ' + ' '.join(f'{metrics[k]:9.4f}' for k in keys))


if __name__ == '__main__':
    main()
