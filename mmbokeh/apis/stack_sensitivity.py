"""Does a fused model use its stack? Metrics with the true stack and with two stacks that carry no defocus
information about the image: each scene's stack replaced by its reference image, and the stacks of the batch rolled
by one scene. A model that reads defocus gets worse without its own stack; equal rows mean the neck ignores it.
"""
from typing import Dict

import torch
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from mmbokeh.structures import DepthInputs

STACK_MODES = ('stack', 'reference', 'rolled')


def replace_stacks(inputs: DepthInputs, mode: str) -> DepthInputs:
    """Batched model inputs with the stack kept (``'stack'``), replaced by copies of each reference image
    (``'reference'``), or rolled so that each sample gets the next one's (``'rolled'``); K values are kept.
    ``inputs['stack']`` [B, S, 3, H, W] must be normalised like ``inputs['img']`` [B, 3, H, W]."""
    if mode not in STACK_MODES:
        raise ValueError(f'mode must be one of {STACK_MODES}, got {mode!r}')
    if 'stack' not in inputs:
        raise KeyError("replace_stacks: the inputs have no 'stack' (add a BokehStackGenerator to the pipeline)")
    stack = inputs['stack']
    if mode == 'reference':
        stack = inputs['img'][:, None].expand_as(stack).clone()
    elif mode == 'rolled':
        stack = stack.roll(-1, dims=0)
    return dict(inputs, stack=stack)


@torch.no_grad()
def stack_sensitivity(cfg, model: torch.nn.Module, batch_size: int = 8) -> Dict[str, Dict[str, float]]:
    """Metrics of ``cfg.val_evaluator`` on ``cfg.val_dataloader`` for each of :data:`STACK_MODES` (one pass over
    the data: each batch is rendered and preprocessed once and predicted once per mode)."""
    if batch_size < 2:
        raise ValueError('batch_size must be >= 2 so that rolled stacks come from other scenes')
    loader = Runner.build_dataloader(dict(cfg.val_dataloader, batch_size=batch_size, num_workers=0,
                                          persistent_workers=False))
    evaluators = {mode: Evaluator(cfg.val_evaluator) for mode in STACK_MODES}
    for evaluator in evaluators.values():
        evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        if 'stack' not in data['inputs']:
            raise ValueError('the val pipeline makes no stack: add a BokehStackGenerator to it')
        for mode, evaluator in evaluators.items():
            samples = [s.clone() for s in data['data_samples']]
            evaluator.process(model(replace_stacks(data['inputs'], mode), samples, mode='predict'), batch)
    return {mode: evaluator.evaluate(len(loader.dataset)) for mode, evaluator in evaluators.items()}
