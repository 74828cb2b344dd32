"""FaultTolerantDataset: a sample that fails to load names itself, or is skipped (and logged) on request."""
import logging
from typing import Any, Union

import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmbokeh.registry import DATASETS

#: Errors a corrupt, truncated or missing file raises in the loading transforms.
DATA_ERRORS = (OSError, ValueError, KeyError, EOFError)

#: Slots of the shared skip counter: slot 0 for the process that built the dataset, 1.. for dataloader workers
#: (worker ``i`` writes slot ``1 + i % (SKIP_SLOTS - 1)``: one writer per slot, so no lock is needed).
SKIP_SLOTS = 257


def _skip_slot() -> int:
    info = torch.utils.data.get_worker_info()
    return 0 if info is None else 1 + info.id % (SKIP_SLOTS - 1)


class SampleError(RuntimeError):
    """Loading sample ``index`` (``path``) failed; the original error is chained."""


@DATASETS.register_module()
class FaultTolerantDataset:
    """Wrap a dataset so that a sample whose files cannot be read either fails naming the sample index and its file
    (``skip_corrupt=False``, the default: a dataloader worker's traceback then says which file), or is skipped:
    a warning names the sample, its file and the error, and the next sample that loads is returned instead
    (``skip_corrupt=True``; at most ``max_skips`` in a row, then it fails).

    ``num_skipped`` counts the skips of the process that built the dataset *and* of its dataloader workers: the
    counter is a small tensor in shared memory, created here (in the main process, before any worker starts), which
    workers inherit by ``fork`` or receive by ``spawn`` (torch shares its memory, persistent workers or not); each
    worker writes only its own slot. :class:`mmbokeh.engine.SkippedSamplesHook` (in the default runtime) logs the
    skips of each epoch and of each validation / test run, summed over workers and ranks. A copy of the dataset made
    by ``copy.deepcopy`` or plain ``pickle`` gets a counter of its own.

    Config::

        train_dataloader = dict(dataset=dict(type='FaultTolerantDataset', skip_corrupt=True,
                                             dataset=dict(type='NYUv2Dataset', ...)))
    """

    def __init__(self, dataset: Union[dict, BaseDataset], skip_corrupt: bool = False, max_skips: int = 16) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.skip_corrupt, self.max_skips = bool(skip_corrupt), int(max_skips)
        self.skip_counts = torch.zeros(SKIP_SLOTS, dtype=torch.int64).share_memory_()

    @property
    def num_skipped(self) -> int:
        """Samples skipped so far by this process and its dataloader workers (all epochs)."""
        return int(self.skip_counts.sum())

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:  # data_root, pipeline, ... of the wrapped dataset
        if name in ('dataset', 'skip_counts'):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def _path(self, index: int) -> str:
        try:
            info = self.dataset.get_data_info(index)
        except Exception:  # noqa: BLE001 - the name is a courtesy; the load error is what matters
            return '<unknown file>'
        return str(info.get('img_path') or info.get('depth_path') or '<unknown file>')

    def __getitem__(self, index: int) -> Any:
        for attempt in range(self.max_skips + 1):
            current = (index + attempt) % len(self.dataset)
            try:
                return self.dataset[current]
            except DATA_ERRORS as err:
                where = f'sample {current} ({self._path(current)}): {type(err).__name__}: {err}'
                if not self.skip_corrupt:
                    raise SampleError(f'loading {where}') from err
                self.skip_counts[_skip_slot()] += 1
                print_log(f'FaultTolerantDataset: skipped {where} ({self.num_skipped} skipped so far)',
                          logger='current', level=logging.WARNING)
        raise SampleError(f'FaultTolerantDataset: {self.max_skips + 1} samples in a row from {index} failed to load')
