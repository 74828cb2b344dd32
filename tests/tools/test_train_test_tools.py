"""tools/train.py, --resume, tools/test.py and tools/dist_train.sh on the synthetic demo config (shortened)."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DEMO = 'configs/depth_anything_v2/dav2-s_synthetic.py'
METRICS = ['d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'silog']
SHORT = [
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.num_samples=8', 'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'val_dataloader.dataset.num_samples=4', 'val_dataloader.dataset.img_size=[98,70]',
    'train_dataloader.dataset.img_size=[70,70]', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
    'default_hooks.logger.interval=1'
]


def _run(args, timeout=600, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def _metrics(log: str, mode: str) -> list:
    """Metric dicts of each `Iter(val|test)` summary line, as printed (4 decimals)."""
    found = []
    for line in log.splitlines():
        if f'Iter({mode})' in line and 'abs_rel:' in line:
            found.append({m: float(re.search(rf'\b{m}: (\S+)', line).group(1)) for m in METRICS})
    return found


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp('demo')
    res = _run([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
                'train_cfg.max_iters=4', *SHORT])
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res.stdout + res.stderr


def test_train_validates_with_all_nine_metrics(trained):
    work, log = trained
    vals = _metrics(log, 'val')
    assert len(vals) == 2  # iterations 2 and 4
    assert all(0 <= v['d1'] <= v['d2'] <= v['d3'] <= 1 and v['abs_rel'] > 0 for v in vals)
    assert (work / 'iter_4.pth').is_file()


def test_resume_continues_and_test_reproduces_validation(trained):
    work, _ = trained
    res = _run([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), '--resume', '--cfg-options',
                'train_cfg.max_iters=6', *SHORT])
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert 'resumed epoch: 0, iter: 4' in log
    assert 'Iter(train) [1/6]' not in log and 'Iter(train) [5/6]' in log
    val = _metrics(log, 'val')[-1]
    res = _run([sys.executable, 'tools/test.py', DEMO, str(work / 'iter_6.pth'), '--work-dir', str(work / 'test'),
                '--show-dir', 'vis', '--cfg-options', *SHORT,
                *[o.replace('val_dataloader', 'test_dataloader') for o in SHORT if o.startswith('val_')]])
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert _metrics(log, 'test')[-1] == val
    assert len(list((work / 'test' / 'vis').glob('*.png'))) == 4  # one depth picture per test image


def test_resume_skips_a_truncated_checkpoint(tmp_path):
    """A kill while a checkpoint is written once left a truncated iter_N.pth that --resume took for none at all
    ('latest checkpoint None') and trained from scratch. Writes are now atomic (``atomic_local`` file backend), and
    --resume falls back to the newest complete checkpoint, saying which it skipped."""
    from mmbokeh.utils import latest_complete_checkpoint
    work = tmp_path / 'work'
    res = _run([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
                'train_cfg.max_iters=4', *SHORT])
    assert res.returncode == 0, res.stderr[-4000:]
    latest = work / 'iter_4.pth'
    latest.write_bytes(latest.read_bytes()[:latest.stat().st_size // 2])  # as a kill mid-write would leave it
    (work / 'last_checkpoint').write_text(str(latest))
    res = _run([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), '--resume', '--cfg-options',
                'train_cfg.max_iters=4', *SHORT])
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert f'--resume: skipping {latest}: incomplete' in log and f'resuming from {work / "iter_2.pth"}' in log
    assert 'resumed epoch: 0, iter: 2' in log and 'Iter(train) [3/4]' in log
    assert latest_complete_checkpoint(str(work)) == (str(latest), [])  # iter_4 written again, whole


def test_atomic_local_backend_is_used_by_the_checkpoint_hook(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.fileio import get_file_backend

    from mmbokeh.utils.file_backend import AtomicLocalBackend
    hook = Config.fromfile(str(ROOT / 'configs/_base_/default_runtime.py')).default_hooks.checkpoint
    backend = get_file_backend(str(tmp_path), backend_args=hook.backend_args)
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'iter_2.pth'
    backend.put(b'complete', target)
    monkeypatch.setattr('mmbokeh.utils.io.os.replace', lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # interrupted before the rename: the old file is intact, no temporary
        backend.put(b'new but never finished', target)
    assert target.read_bytes() == b'complete' and sorted(p.name for p in tmp_path.iterdir()) == ['iter_2.pth']


def test_deterministic_runs_are_bit_identical(tmp_path):
    """Two short runs of the demo with ``randomness.deterministic=True`` end with equal weights, bit for bit."""
    import torch
    states = []
    for run in ('a', 'b'):
        res = _run([sys.executable, 'tools/train.py', DEMO, '--work-dir', str(tmp_path / run), '--cfg-options',
                    'train_cfg.max_iters=4', 'randomness.deterministic=True', *SHORT])
        assert res.returncode == 0, res.stderr[-4000:]
        states.append(torch.load(tmp_path / run / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict'])
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


@pytest.mark.parametrize('config', [DEMO, 'configs/bokehdepth/dav2-s_synthetic.py', 'configs/sdnet/sdnet_synthetic.py'])
def test_stopped_and_resumed_equals_uninterrupted(tmp_path, config):
    """Four iterations straight through, and two iterations then ``--resume`` to four, end with the same weights,
    bit for bit (the DAv2 demo, the BokehDepth demo with its stack and neck, from random weights, and the SDNet demo,
    whose training views are drawn from a step counter kept in the checkpoint)."""
    import torch
    opts = ['load_from=None', 'randomness.deterministic=True', *SHORT]
    for run, steps in (('straight', [4]), ('resumed', [2, 4])):
        for i, max_iters in enumerate(steps):
            res = _run([sys.executable, 'tools/train.py', config, '--work-dir', str(tmp_path / run)]
                       + (['--resume'] if i else []) + ['--cfg-options', f'train_cfg.max_iters={max_iters}', *opts])
            assert res.returncode == 0, res.stderr[-4000:]
    resumed_log = (res.stdout + res.stderr)
    assert 'resuming from' in resumed_log and 'Iter(train) [3/4]' in resumed_log
    assert 'Iter(train) [1/4]' not in resumed_log  # it continued; a fresh start would also end equal
    a, b = (torch.load(tmp_path / run / 'iter_4.pth', map_location='cpu', weights_only=True)
            for run in ('straight', 'resumed'))
    assert all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])
    for group_a, group_b in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert all(torch.equal(group_a[k], group_b[k]) for k in group_a)
    assert a['param_schedulers'] == b['param_schedulers']


def test_dist_train_two_cpu_processes(tmp_path):
    res = _run(['bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', str(tmp_path), '--cfg-options',
                'train_cfg.max_iters=2', *SHORT])
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log and log.count('Iter(train) [2/2]') == 1  # rank 0 logs
    assert len(_metrics(log, 'val')) == 1
    assert (tmp_path / 'iter_2.pth').is_file()


def test_missing_nyu_data_fails_fast_with_instructions(tmp_path):
    start = time.monotonic()
    res = _run([sys.executable, 'tools/train.py', 'configs/depth_anything_v2/dav2-s_nyu.py', '--work-dir',
                str(tmp_path), '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path / "nyu"}',
                'load_from=None'], timeout=120)
    assert res.returncode != 0
    assert time.monotonic() - start < 60
    assert 'images/train' in res.stderr and 'tools/dataset_converters/nyu_labeled_mat.py' in res.stderr


def test_missing_checkpoint_names_the_converter(tmp_path):
    res = _run([sys.executable, 'tools/train.py', 'configs/depth_anything_v2/dav2-s_nyu.py', '--work-dir',
                str(tmp_path)], timeout=120)
    assert res.returncode != 0
    assert 'checkpoints/dav2-s_metric_hypersim.pth' in res.stderr
    assert 'tools/convert/dav2_to_mmbokeh.py' in res.stderr
