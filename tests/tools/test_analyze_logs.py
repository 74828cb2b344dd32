"""TensorBoard by config and tools/analysis/analyze_logs.py on a short run of the synthetic demo config."""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

ROOT = Path(__file__).parents[2]
DEMO = ROOT / 'configs/depth_anything_v2/dav2-s_synthetic.py'
SHORT = [
    'train_cfg.max_iters=4', 'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.num_samples=8',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False', 'val_dataloader.dataset.num_samples=4',
    'val_dataloader.dataset.img_size=[98,70]', 'train_dataloader.dataset.img_size=[70,70]', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
    'default_hooks.visualization.draw=True', 'default_hooks.visualization.interval=1'
]
#: the docs/logging.md snippet: the demo config with TensorBoard added to the visualizer's backends
TB_CONFIG = f"""_base_ = ['{DEMO}']
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
"""
C0 = np.array([180, 119, 31])  # matplotlib's first line colour '#1f77b4', as BGR


def _run(args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _analyze(*args):
    return _run([sys.executable, 'tools/analysis/analyze_logs.py', *map(str, args)])


@pytest.fixture(scope='module')
def tb_run(tmp_path_factory):
    """(work dir, its one <timestamp>/vis_data folder) of 4 iterations of the demo with TensorBoard, validating and
    drawing at 2 and 4."""
    tmp = tmp_path_factory.mktemp('tb')
    cfg = tmp / 'dav2-s_synthetic_tb.py'
    cfg.write_text(TB_CONFIG)
    work = tmp / 'work'
    res = _run([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work), '--cfg-options', *SHORT])
    assert res.returncode == 0, res.stderr[-4000:]
    (vis, ) = glob.glob(str(work / '*' / 'vis_data'))
    return work, Path(vis)


def _json_log(vis: Path) -> Path:
    return vis / f'{vis.parent.name}.json'


def _records(vis: Path):
    return [json.loads(line) for line in _json_log(vis).read_text().splitlines() if line.strip()]


def test_tensorboard_fragment_equals_the_documented_snippet(tmp_path):
    """configs/_base_/tensorboard.py in place of default_runtime.py gives the demo config the snippet gives."""
    text = DEMO.read_text().replace("'../_base_/default_runtime.py'", "'../_base_/tensorboard.py'")
    assert text != DEMO.read_text()
    fragment = tmp_path / 'fragment.py'
    fragment.write_text(text.replace("'../_base_/", f"'{ROOT}/configs/_base_/"))
    via_fragment = Config.fromfile(str(fragment)).to_dict()
    snippet = tmp_path / 'snippet.py'
    snippet.write_text(TB_CONFIG)
    via_snippet = Config.fromfile(str(snippet)).to_dict()
    backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
    assert via_fragment['visualizer'] == via_snippet['visualizer'] == dict(
        type='DepthLocalVisualizer', vis_backends=backends, name='visualizer')
    via_fragment.pop('vis_backends'), via_snippet.pop('vis_backends')  # top-level helper variable only
    assert via_fragment == via_snippet


def test_tensorboard_event_file_has_the_logged_scalars(tb_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    _, vis = tb_run
    events = list(vis.glob('events.out.tfevents.*'))
    assert len(events) == 1 and events[0].stat().st_size > 0
    acc = EventAccumulator(str(vis), size_guidance={'scalars': 0, 'images': 0})
    acc.Reload()
    records = _records(vis)
    train = [r for r in records if 'iter' in r]
    val = [r for r in records if 'abs_rel' in r]
    assert [r['step'] for r in train] == [1, 2, 3, 4] and [r['step'] for r in val] == [2, 4]
    for key, recs in [('loss', train), ('loss_silog', train), ('lr', train), ('abs_rel', val), ('d1', val)]:
        scalars = acc.Scalars(key)
        assert [e.step for e in scalars] == [r['step'] for r in recs], key
        np.testing.assert_allclose([e.value for e in scalars], [r[key] for r in recs], rtol=1e-6, err_msg=key)
    # drawn depth samples: still on disk (LocalVisBackend) and in TensorBoard
    assert sorted(p.name for p in (vis / 'vis_image').glob('*.png')) == ['val_000000_2.png', 'val_000000_4.png']
    (tag, ) = acc.Tags()['images']
    assert [e.step for e in acc.Images(tag)] == [2, 4]


@pytest.mark.parametrize('which', ['json', 'work_dir'])
def test_plot_curve_writes_one_nonblank_subplot_per_key(tb_run, tmp_path, which):
    work, vis = tb_run
    out = tmp_path / 'curves.png'
    log = _json_log(vis) if which == 'json' else work
    res = _analyze('plot_curve', log, '--keys', 'loss', 'loss_silog', 'abs_rel', '--out', out, '--title', 'demo')
    assert res.returncode == 0, res.stderr[-4000:]
    assert 'saved 3 curve(s) of 1 run(s)' in res.stdout
    img = cv2.imread(str(out))
    assert img.shape == (3 * 300, 800, 3)  # 8 x 3 inches per subplot at 100 dpi
    assert not list(tmp_path.glob('.curves.png.*'))  # no temporary left by the atomic write
    line = np.all(np.abs(img.astype(int) - C0) <= 40, axis=-1)
    for band in np.split(line, 3):  # one subplot per 300 rows; a legend sample alone is a few dozen pixels
        assert band.sum() > 300, band.sum()


def test_plot_curve_names_the_available_keys_of_a_missing_one(tb_run, tmp_path):
    _, vis = tb_run
    out = tmp_path / 'curves.png'
    res = _analyze('plot_curve', _json_log(vis), '--keys', 'loss', 'no_such_metric', '--out', out)
    assert res.returncode == 1
    assert "key 'no_such_metric' is not in" in res.stderr
    available = res.stderr.split('available keys: ')[1].strip().split(', ')
    assert {'loss', 'loss_silog', 'abs_rel', 'd1', 'lr'} <= set(available)
    assert not out.exists()


def test_cal_train_time(tb_run):
    _, vis = tb_run
    res = _analyze('cal_train_time', _json_log(vis))
    assert res.returncode == 0, res.stderr[-4000:]
    times = [r['time'] for r in _records(vis) if 'iter' in r][1:]  # the first interval is left out
    mean = float(res.stdout.split('average iter time: ')[1].split()[0])
    assert mean == pytest.approx(np.mean(times), abs=1e-4)
    assert f'at iteration {1 + 1 + int(np.argmax(times))})' in res.stdout  # slowest, counted from iteration 2
