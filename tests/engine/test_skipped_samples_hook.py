"""SkippedSamplesHook: the samples FaultTolerantDataset(skip_corrupt=True) skips in dataloader workers are counted in
the main process and logged per epoch / validation / test run (workers' counts live in shared memory)."""
import copy
import re
import uuid
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmbokeh.datasets import FaultTolerantDataset
from mmbokeh.engine import SkippedSamplesHook
from mmbokeh.engine.hooks import fault_tolerant_datasets
from mmbokeh.registry import DATASETS, HOOKS

NUM_IMAGES = 6
CORRUPT = (1, 4)  # never two in a row: each corrupt file is visited (and skipped) exactly once per pass


def _nyu_split(root, split, corrupt):
    """A NYU split (mmseg layout) of NUM_IMAGES 6x8 images whose images at ``corrupt`` are truncated."""
    for folder in ('images', 'annotations'):
        (root / folder / split).mkdir(parents=True)
    for i in range(NUM_IMAGES):
        cv2.imwrite(str(root / 'images' / split / f'{i:04d}.jpg'), np.full((6, 8, 3), 30 * i, np.uint8))
        cv2.imwrite(str(root / 'annotations' / split / f'{i:04d}.png'), np.full((6, 8), 1000, np.uint16))
    for i in corrupt:
        bad = root / 'images' / split / f'{i:04d}.jpg'
        bad.write_bytes(bad.read_bytes()[:20])


@pytest.fixture
def nyu_root(tmp_path):
    _nyu_split(tmp_path / 'nyu', 'train', CORRUPT)
    _nyu_split(tmp_path / 'nyu', 'test', CORRUPT[:1])
    return tmp_path / 'nyu'


def _dataset_cfg(root, split):
    return dict(type='FaultTolerantDataset', skip_corrupt=True,
                dataset=dict(type='NYUv2Dataset', data_root=str(root), split=split, test_mode=split == 'test',
                             pipeline=[dict(type='LoadImage')]))


class ToyModel(BaseModel):
    """One parameter; the loss ignores the images, predict returns the image paths it got."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, *args, mode='tensor', **batch):
        if mode == 'loss':
            return dict(loss=(self.w - 1).square().sum())
        return list(batch['img_path'])


class PathsMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(num=len(results))


def _loader(root, split, persistent):
    return dict(batch_size=2, num_workers=2, persistent_workers=persistent,
                sampler=dict(type='DefaultSampler', shuffle=split == 'train'), collate_fn=dict(type='pseudo_collate'),
                dataset=_dataset_cfg(root, split))


@pytest.mark.parametrize('persistent', [False, True])
def test_runner_logs_per_epoch_and_per_val_test_counts_from_workers(nyu_root, tmp_path, persistent):
    work_dir = tmp_path / 'work'
    runner = Runner(
        model=ToyModel(), work_dir=str(work_dir), experiment_name=f'skip_{uuid.uuid4().hex[:8]}',
        default_scope='mmbokeh', train_dataloader=_loader(nyu_root, 'train', persistent),
        val_dataloader=_loader(nyu_root, 'test', persistent), test_dataloader=_loader(nyu_root, 'test', persistent),
        val_evaluator=Evaluator([PathsMetric()]), test_evaluator=Evaluator([PathsMetric()]),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1), val_cfg=dict(), test_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        custom_hooks=[dict(type='SkippedSamplesHook')], env_cfg=dict(mp_cfg=dict(mp_start_method='fork')),
        log_level='INFO')
    hook = next(h for h in runner.hooks if isinstance(h, SkippedSamplesHook))
    try:
        _check_runner(runner, hook, work_dir)
    finally:  # persistent workers left to the garbage collector slow the next test that forks by ~30 s
        for loop in (runner.train_loop, runner.val_loop, runner.test_loop):
            worker_iter = getattr(loop.dataloader, '_iterator', None)
            if worker_iter is not None and hasattr(worker_iter, '_shutdown_workers'):
                worker_iter._shutdown_workers()


def _check_runner(runner, hook, work_dir):
    runner.train()
    assert hook.last_counts == dict(train=len(CORRUPT), val=1)
    runner.test()
    assert hook.last_counts['test'] == 1
    # every skip happened in a worker: the dataset object of the main process loaded nothing itself
    assert all(int(d.skip_counts[0]) == 0 for d in fault_tolerant_datasets(runner.train_dataloader.dataset))
    log = next(work_dir.rglob('*.log')).read_text()
    per_epoch = re.findall(r'Epoch\(train\) \[(\d)\]: FaultTolerantDataset skipped (\d+) corrupt samples', log)
    assert per_epoch == [('1', '2'), ('2', '2')]  # per epoch, not cumulative
    val = r'Validation run (\d) \(epoch (\d), iter (\d)\): FaultTolerantDataset skipped 1 corrupt sample \('
    assert re.findall(val, log) == [('1', '1', '3'), ('2', '2', '6')]
    assert len(re.findall(r'Test run 1: FaultTolerantDataset skipped 1 corrupt sample \(', log)) == 1
    assert runner.message_hub.get_info('test/skipped_samples') == 1


def _fake_runner(loader, name):
    return SimpleNamespace(train_loop=SimpleNamespace(dataloader=loader), epoch=0, iter=0,
                           message_hub=MessageHub.get_instance(name))


@pytest.mark.parametrize('context', ['fork', 'spawn'])
def test_plain_dataloader_counts_with_fork_and_spawn_workers(nyu_root, context, monkeypatch):
    init_default_scope('mmbokeh')
    dataset = DATASETS.build(_dataset_cfg(nyu_root, 'train'))
    loader = DataLoader(dataset, batch_size=1, num_workers=2, collate_fn=list, multiprocessing_context=context,
                        persistent_workers=True)
    logged = []
    monkeypatch.setattr('mmbokeh.engine.hooks.skipped_samples_hook.print_log', lambda msg, **kw: logged.append(msg))
    hook = HOOKS.build(dict(type='SkippedSamplesHook', log_zero=True))
    runner = _fake_runner(loader, f'skip_{context}_{uuid.uuid4().hex[:8]}')
    for epoch in range(2):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        paths = [item['img_path'] for batch in loader for item in batch]
        hook.after_train_epoch(runner)
        assert len(paths) == NUM_IMAGES and not any(f'{i:04d}.jpg' in p for i in CORRUPT for p in paths)
    assert dataset.num_skipped == 2 * len(CORRUPT)
    assert int(dataset.skip_counts[0]) == 0 and int(dataset.skip_counts[1:3].sum()) == 2 * len(CORRUPT)
    assert [re.sub(r'\[.*?\]', '[]', m) for m in logged] == [
        'Iter(train) [], end of training: FaultTolerantDataset skipped 2 corrupt samples (each is logged above with '
        'its file)'] * 2


def test_iteration_based_training_reports_once_per_pass_over_the_data(nyu_root, monkeypatch):
    init_default_scope('mmbokeh')
    logged = []
    monkeypatch.setattr('mmbokeh.engine.hooks.skipped_samples_hook.print_log', lambda msg, **kw: logged.append(msg))
    dataset = DATASETS.build(_dataset_cfg(nyu_root, 'train'))
    runner = _fake_runner(DataLoader(dataset, batch_size=2, collate_fn=list), f'skip_{uuid.uuid4().hex[:8]}')
    hook = SkippedSamplesHook()
    hook.before_train_epoch(runner)
    for runner.iter in range(7):  # 3 batches per pass: reports after iterations 3 and 6, then at the end
        next(iter(DataLoader(torch.utils.data.Subset(dataset, [2 * (runner.iter % 3), 2 * (runner.iter % 3) + 1]),
                             batch_size=2, collate_fn=list)))
        hook.after_train_iter(runner, runner.iter)
    runner.iter = 7
    hook.after_train_epoch(runner)
    assert [m.split(': ')[0] for m in logged] == ['Iter(train) [3], pass 1 over the data',
                                                  'Iter(train) [6], pass 2 over the data',
                                                  'Iter(train) [7], end of training']
    assert [int(re.search(r'skipped (\d+)', m).group(1)) for m in logged] == [2, 2, 1]
    assert dataset.num_skipped == 5 and dataset.skip_counts[0] == 5  # loaded in this process: slot 0


def test_zero_skips_log_nothing_and_loops_without_the_dataset_are_ignored(nyu_root, monkeypatch):
    init_default_scope('mmbokeh')
    logged = []
    monkeypatch.setattr('mmbokeh.engine.hooks.skipped_samples_hook.print_log', lambda msg, **kw: logged.append(msg))
    clean = DATASETS.build(_dataset_cfg(nyu_root, 'train'))
    clean.dataset = DATASETS.build(dict(type='NYUv2Dataset', data_root=str(nyu_root), split='train',
                                        pipeline=[]))  # nothing decoded: nothing skipped
    hook = SkippedSamplesHook()
    runner = _fake_runner(DataLoader(clean, batch_size=2, collate_fn=list), f'skip_{uuid.uuid4().hex[:8]}')
    hook.before_train_epoch(runner)
    list(runner.train_loop.dataloader)
    hook.after_train_epoch(runner)
    assert hook.last_counts == dict(train=0) and logged == []
    plain = _fake_runner(DataLoader(clean.dataset, batch_size=2, collate_fn=list), f'skip_{uuid.uuid4().hex[:8]}')
    hook.before_train_epoch(plain)
    hook.after_train_epoch(plain)
    assert hook.last_counts == dict(train=0) and logged == []


def test_wrapped_datasets_are_found_and_copies_count_apart(nyu_root):
    init_default_scope('mmbokeh')
    inner = DATASETS.build(_dataset_cfg(nyu_root, 'train'))
    other = DATASETS.build(_dataset_cfg(nyu_root, 'test'))
    concat = torch.utils.data.ConcatDataset([inner, torch.utils.data.Subset(other, [0, 1]), inner])
    assert fault_tolerant_datasets(concat) == [inner, other]
    assert fault_tolerant_datasets(inner.dataset) == []
    clone = copy.deepcopy(inner)
    clone[CORRUPT[0]]
    assert clone.num_skipped == 1 and inner.num_skipped == 0
    assert isinstance(clone, FaultTolerantDataset)


def _rank_main(rank, root, port, out_dir):
    """One of two gloo ranks: rank r loads the samples of its shard; the hook sums the skips over both ranks."""
    import torch.distributed as torch_dist
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    try:
        init_default_scope('mmbokeh')
        dataset = DATASETS.build(_dataset_cfg(root, 'train'))
        shard = torch.utils.data.Subset(dataset, [0, 1] if rank == 0 else [2, 3, 4, 5])  # CORRUPT: 1 | 4
        # a worker per rank, and the hook looks through the Subset
        runner = _fake_runner(DataLoader(shard, batch_size=2, num_workers=1, collate_fn=list), f'rank{rank}')
        logged = []
        import mmbokeh.engine.hooks.skipped_samples_hook as module
        module.print_log = lambda msg, **kw: logged.append(msg)
        hook = SkippedSamplesHook()
        hook.before_train_epoch(runner)
        list(runner.train_loop.dataloader)
        hook.after_train_epoch(runner)
        lines = [str(dataset.num_skipped), str(hook.last_counts['train'])] + logged
        (out_dir / f'{rank}.txt').write_text('\n'.join(lines))
    finally:
        torch_dist.destroy_process_group()


def test_counts_are_summed_over_ranks(nyu_root, tmp_path):
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    torch.multiprocessing.start_processes(_rank_main, args=(nyu_root, port, tmp_path), nprocs=2, join=True,
                                          start_method='spawn')
    for rank in (0, 1):
        local, total, message = (tmp_path / f'{rank}.txt').read_text().split('\n', 2)
        assert (int(local), int(total)) == (1, 2)  # one corrupt file in each shard, two in all
        assert message.startswith('Iter(train) [0], end of training: FaultTolerantDataset skipped 2 corrupt samples '
                                  'over 2 ranks')
