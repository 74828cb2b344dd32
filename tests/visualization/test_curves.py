"""mmbokeh.visualization.curves: reading mmengine's JSON scalar logs and plotting their curves."""
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmbokeh.visualization.curves import load_json_log, load_json_logs, plot_curves, train_time_stats


def _train(step, loss, time=0.5):
    return dict(lr=1e-4, loss=loss, loss_silog=loss, time=time, data_time=0.01, iter=step, step=step)


def _val(step, abs_rel, prefix='', time=0.2):
    return {f'{prefix}abs_rel': abs_rel, f'{prefix}d1': 1 - abs_rel, 'time': time, 'data_time': 0.02, 'step': step}


def _write_run(work: Path, stamp: str, records) -> Path:
    """``<work>/<stamp>/vis_data/<stamp>.json`` (and the scalars.json duplicate LocalVisBackend writes)."""
    vis = work / stamp / 'vis_data'
    vis.mkdir(parents=True)
    text = ''.join(json.dumps(r) + '\n' for r in records)
    (vis / f'{stamp}.json').write_text(text)
    (vis / 'scalars.json').write_text(text)
    return vis / f'{stamp}.json'


@pytest.fixture
def two_runs(tmp_path):
    a = _write_run(tmp_path / 'a', '20260101_000000',
                   [_train(1, 0.9), _train(2, 0.7), _val(2, 0.5), _train(3, 0.6), _train(4, 0.5), _val(4, 0.4)])
    b = _write_run(tmp_path / 'b', '20260102_000000',
                   [_train(2, 0.8), _train(4, 0.4), _val(4, 0.3, prefix='synthetic_fs/all/')])
    return a, b


def test_two_logs_with_a_legend_plot_two_lines_per_key(two_runs, tmp_path):
    logs = load_json_logs([str(p) for p in two_runs])
    assert [log.name for log in logs] == ['a/20260101_000000', 'b/20260102_000000']
    fig = plot_curves(logs, ['loss', 'abs_rel', 'time'], legend=['base', 'bokeh'], title='T')
    assert len(fig.axes) == 3
    expected = {
        'loss': [([1, 2, 3, 4], [0.9, 0.7, 0.6, 0.5]), ([2, 4], [0.8, 0.4])],
        'abs_rel': [([2, 4], [0.5, 0.4]), ([4], [0.3])],  # b's is synthetic_fs/all/abs_rel
        'time': [([1, 2, 3, 4], [0.5] * 4), ([2, 4], [0.5] * 2)],  # training time, not validation's
    }
    for ax, key in zip(fig.axes, expected):
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == ['base', 'bokeh']
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ['base', 'bokeh']
        for ln, (xs, ys) in zip(lines, expected[key]):
            np.testing.assert_allclose(ln.get_xdata(), xs)
            np.testing.assert_allclose(ln.get_ydata(), ys)
        assert ax.get_xlabel() == 'iteration' and ax.get_ylabel() == key
    assert fig.axes[1].get_title() == 'abs_rel, synthetic_fs/all/abs_rel'
    assert fig._suptitle.get_text() == 'T'


def test_png_size_and_atomic_write(two_runs, tmp_path, monkeypatch):
    logs = load_json_logs([str(two_runs[0])])
    out = tmp_path / 'out' / 'curves.png'
    plot_curves(logs, ['loss', 'd1'], out=str(out), subplot_size=(5, 2), dpi=80)
    img = cv2.imread(str(out))
    assert img.shape == (2 * 2 * 80, 5 * 80, 3)
    assert (img < 128).any() and (img > 250).mean() > 0.5  # drawn on a white background
    before = out.read_bytes()
    monkeypatch.setattr('mmbokeh.utils.io.os.replace', lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # interrupted before the rename: the old PNG is intact, no temporary
        plot_curves(logs, ['loss'], out=str(out))
    assert out.read_bytes() == before and [p.name for p in out.parent.iterdir()] == ['curves.png']


def test_missing_key_lists_the_available_keys(two_runs, tmp_path):
    logs = load_json_logs([str(p) for p in two_runs])
    out = tmp_path / 'curves.png'
    with pytest.raises(KeyError) as err:
        plot_curves(logs, ['loss', 'rmse'], out=str(out))
    msg = err.value.args[0]
    assert "key 'rmse' is not in a/20260101_000000" in msg
    assert msg.endswith('available keys: abs_rel, d1, data_time, loss, loss_silog, lr, time')
    assert not out.exists()  # every key is checked before anything is drawn


def test_suffix_matches_whole_path_parts_and_ambiguity_is_an_error(tmp_path):
    path = _write_run(tmp_path, '20260101_000000', [_train(1, 1.0), {**_val(1, 0.5, 'nyu/'), **_val(1, 0.6, 'kitti/')}])
    log = load_json_log(str(path))
    assert log.resolve('nyu/abs_rel') == ('val', 'nyu/abs_rel')
    assert log.resolve('loss') == ('train', 'loss')
    with pytest.raises(KeyError, match=r"'abs_rel' is ambiguous .*: it matches kitti/abs_rel, nyu/abs_rel"):
        log.resolve('abs_rel')
    with pytest.raises(KeyError, match='available keys'):
        log.resolve('s_rel')  # not a whole part of abs_rel


def test_legend_length_must_match(two_runs):
    logs = load_json_logs([str(p) for p in two_runs])
    with pytest.raises(ValueError, match='1 legend entries for 2 logs'):
        plot_curves(logs, ['loss'], legend=['only one'])


def test_work_dir_joins_a_resumed_training(tmp_path):
    """A work dir is one run: a resumed training's log (a later timestamp) replaces the records from its first step."""
    work = tmp_path / 'work'
    _write_run(work, '20260101_000000', [_train(1, 0.9), _train(2, 0.8), _val(2, 0.5), _train(3, 0.7)])
    _write_run(work, '20260101_010000', [_train(3, 0.65), _train(4, 0.6), _val(4, 0.4)])
    (work / '20260101_020000').mkdir()  # a test run: no vis_data JSON
    (log, ) = load_json_logs([str(work)])
    assert log.name == 'work' and len(log.paths) == 2
    assert log.series('loss') == ([1.0, 2.0, 3.0, 4.0], [0.9, 0.8, 0.65, 0.6])
    assert log.series('abs_rel') == ([2.0, 4.0], [0.5, 0.4])
    (single, ) = load_json_logs([str(work / '20260101_010000')])  # a timestamp folder: its own log only
    assert single.series('loss')[0] == [3.0, 4.0]
    runs = load_json_logs([str(work / '*' / 'vis_data' / '*.json')])  # a glob: one run per log, no scalars.json
    assert [r.name for r in runs] == ['work/20260101_000000', 'work/20260101_010000']
    with pytest.raises(FileNotFoundError, match='no JSON scalar log'):
        load_json_logs([str(tmp_path)])


def test_truncated_last_line_is_skipped_a_broken_middle_line_is_an_error(tmp_path):
    path = tmp_path / 'log.json'
    path.write_text(json.dumps(_train(1, 0.9)) + '\n' + json.dumps(_train(2, 0.8)) + '\n{"loss": 0.')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        log = load_json_log(str(path))
    assert log.series('loss') == ([1.0, 2.0], [0.9, 0.8]) and 'truncated' in str(caught[0].message)
    path.write_text('{"loss": 0.\n' + json.dumps(_train(2, 0.8)) + '\n')
    with pytest.raises(ValueError, match='log.json:1: not a JSON scalar log line'):
        load_json_log(str(path))


def test_train_time_stats_leave_out_the_first_interval(tmp_path):
    path = _write_run(tmp_path, 't', [_train(10, 1, time=3.0), _train(20, 1, time=0.5), _val(20, 0.5, time=9.0),
                                      _train(30, 1, time=0.7), _train(40, 1, time=0.6)])
    log = load_json_log(str(path))
    s = train_time_stats(log)
    assert s['records'] == 3 and s['mean'] == pytest.approx(0.6) and s['total'] == pytest.approx(0.6 * 40)
    assert (s['slowest'], s['slowest_step'], s['fastest'], s['fastest_step']) == (0.7, 30, 0.5, 20)
    s = train_time_stats(log, include_outliers=True)
    assert s['records'] == 4 and (s['slowest'], s['slowest_step']) == (3.0, 10)
