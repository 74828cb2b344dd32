"""SkippedSamplesHook: log how many corrupt samples ``FaultTolerantDataset(skip_corrupt=True)`` skipped."""
import logging
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmbokeh.datasets.fault_tolerant import FaultTolerantDataset
from mmbokeh.registry import HOOKS


def fault_tolerant_datasets(dataset: object, _seen: Optional[set] = None) -> List[FaultTolerantDataset]:
    """Every :class:`FaultTolerantDataset` in ``dataset``, looking through wrappers (``.dataset``, ``.datasets``:
    mmengine's ConcatDataset, RepeatDataset, ClassBalancedDataset, torch's Subset...), each once."""
    seen = set() if _seen is None else _seen
    if dataset is None or id(dataset) in seen:
        return []
    seen.add(id(dataset))
    found = [dataset] if isinstance(dataset, FaultTolerantDataset) else []
    # vars(): never trigger FaultTolerantDataset.__getattr__, which forwards to the wrapped dataset
    attrs = vars(dataset) if hasattr(dataset, '__dict__') else {}
    inner = attrs.get('dataset')
    if inner is not None:
        found += fault_tolerant_datasets(inner, seen)
    for child in attrs.get('datasets') or ():
        found += fault_tolerant_datasets(child, seen)
    return found


@HOOKS.register_module()
class SkippedSamplesHook(Hook):
    """At the end of each training epoch and of each validation / test run, log how many samples the
    :class:`~mmbokeh.datasets.FaultTolerantDataset` of that loop skipped (``skip_corrupt=True``), summed over the
    dataloader workers (the dataset's counter is in shared memory) and over the ranks (``all_reduce``).

    Iteration-based training (an infinite sampler, one long "epoch") reports once per pass over the data, i.e.
    every ``len(train_dataloader)`` iterations, and at the end. Skips of samples the workers already prefetched
    for the next pass are counted in that pass's report or the next one. A loop without a FaultTolerantDataset
    logs nothing. Each line names the epoch or run (mmengine's logger drops a warning identical to an earlier one).
    The counts are kept in :attr:`last_counts` (``'train'``, ``'val'``, ``'test'``) and in the
    message hub as ``<mode>/skipped_samples`` (runtime info).

    Args:
        log_zero: also log a count of 0 (False: only epochs that skipped something are logged).
    """

    priority = 'NORMAL'

    def __init__(self, log_zero: bool = False) -> None:
        self.log_zero = log_zero
        self.last_counts: Dict[str, int] = {}
        self._start: Dict[str, List[int]] = {}
        self._datasets: Dict[str, List[FaultTolerantDataset]] = {}
        self._runs: Dict[str, int] = {}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _dataloader(runner, mode: str):
        loop = getattr(runner, f'{mode}_loop', None)
        return getattr(loop, 'dataloader', None)

    def _begin(self, runner, mode: str) -> None:
        self._runs[mode] = self._runs.get(mode, 0) + 1
        loader = self._dataloader(runner, mode)
        datasets = fault_tolerant_datasets(getattr(loader, 'dataset', None))
        self._datasets[mode] = datasets
        self._start[mode] = [d.num_skipped for d in datasets]

    def _report(self, runner, mode: str, what: str) -> None:
        datasets = self._datasets.get(mode)
        if not datasets:  # same config on every rank: all ranks skip the all_reduce together
            return
        now = [d.num_skipped for d in datasets]
        local = sum(n - s for n, s in zip(now, self._start[mode]))
        self._start[mode] = now
        count = torch.tensor(local, dtype=torch.int64)
        all_reduce(count, op='sum')
        count = int(count)
        self.last_counts[mode] = count
        runner.message_hub.update_info(f'{mode}/skipped_samples', count)
        if count or self.log_zero:
            ranks = get_world_size()
            over = f' over {ranks} ranks' if ranks > 1 else ''
            print_log(f'{what}: FaultTolerantDataset skipped {count} corrupt sample{"s" * (count != 1)}{over} '
                      '(each is logged above with its file)', logger='current',
                      level=logging.WARNING if count else logging.INFO)

    # ------------------------------------------------------------------ train
    def before_train_epoch(self, runner) -> None:
        self._begin(runner, 'train')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loop = getattr(runner, 'train_loop', None)
        if isinstance(loop, EpochBasedTrainLoop) or not self._datasets.get('train'):
            return  # epoch-based: reported after the epoch
        try:
            per_pass = len(loop.dataloader)
        except TypeError:
            return
        if per_pass and (runner.iter + 1) % per_pass == 0:
            self._report(runner, 'train', f'Iter(train) [{runner.iter + 1}], pass {(runner.iter + 1) // per_pass} '
                         'over the data')

    def after_train_epoch(self, runner) -> None:
        if isinstance(getattr(runner, 'train_loop', None), EpochBasedTrainLoop):
            self._report(runner, 'train', f'Epoch(train) [{runner.epoch + 1}]')  # the loop counts it after this
        else:
            self._report(runner, 'train', f'Iter(train) [{runner.iter}], end of training')

    # ------------------------------------------------------------------ val / test
    def before_val_epoch(self, runner) -> None:
        self._begin(runner, 'val')

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        # every line differs (mmengine's logger drops a repeated warning)
        self._report(runner, 'val', f'Validation run {self._runs["val"]} (epoch {runner.epoch}, iter {runner.iter})')

    def before_test_epoch(self, runner) -> None:
        self._begin(runner, 'test')

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        self._report(runner, 'test', f'Test run {self._runs["test"]}')


__all__ = ['SkippedSamplesHook', 'fault_tolerant_datasets']
