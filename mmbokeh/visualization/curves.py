"""Loss and metric curves from mmengine's JSON scalar logs, one subplot per key and one line per run.

mmengine's ``LoggerHook`` writes every logged scalar to ``<work_dir>/<timestamp>/vis_data/<timestamp>.json``, one
JSON object per line: training lines carry ``iter``, ``step`` (the iteration), ``lr``, ``loss``, ``loss_<term>``,
``time``, ...; validation lines carry the metrics (``abs_rel``, or ``<prefix>/abs_rel`` with an evaluator prefix),
their own ``time`` and ``data_time``, and ``step`` (the iteration they ran at). ``tools/analysis/analyze_logs.py``
is the command line; the benchmark tools can reuse :func:`plot_curves` for their figures.

    logs = load_json_logs(['work_dirs/dav2-s_synthetic'])          # a work dir, a timestamp dir or the .json
    fig = plot_curves(logs, ['loss', 'abs_rel'], out='curves.png')  # axes: fig.axes, lines: ax.get_lines()
"""
import glob
import json
import os.path as osp
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmbokeh.utils.io import atomic_save_figure

#: keys that index a record rather than being curves
INDEX_KEYS = ('step', 'iter', 'epoch')
#: the scalar logs mmengine's LocalVisBackend writes besides the LoggerHook's ``<timestamp>.json`` (a duplicate)
DUPLICATE_LOGS = ('scalars.json', )


@dataclass
class RunLog:
    """The scalars of one run: ``train`` and ``val`` records (dicts of numbers, each with ``step``) in step order.

    ``paths`` are the JSON files it was read from (several for a work dir whose training was resumed); ``name`` is
    its default legend entry.
    """
    name: str
    paths: List[str]
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)

    def keys(self, mode: Optional[str] = None) -> List[str]:
        """The plottable keys (numeric, not ``step``/``iter``/``epoch``) of ``mode`` ('train', 'val' or both)."""
        found: Dict[str, None] = {}
        for m in ('train', 'val') if mode is None else (mode, ):
            for rec in getattr(self, m):
                found.update((k, None) for k, v in rec.items() if k not in INDEX_KEYS and _is_number(v))
        return sorted(found)

    def resolve(self, key: str) -> Tuple[str, str]:
        """(mode, logged key) of ``key``: the exact key, training first (``time`` and ``data_time`` are logged in both
        modes), else the one logged key that ends with ``/<key>`` (``abs_rel`` -> ``synthetic_fs/all/abs_rel``).

        Raises:
            KeyError: no such key (the message lists the available ones) or several suffix matches.
        """
        for mode in ('train', 'val'):
            if key in self.keys(mode):
                return mode, key
        matches = [(mode, k) for mode in ('train', 'val') for k in self.keys(mode) if k.endswith('/' + key)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f'key {key!r} is ambiguous in {self.name} ({", ".join(self.paths)}): it matches '
                           f'{", ".join(k for _, k in matches)}; give the full key')
        raise KeyError(f'key {key!r} is not in {self.name} ({", ".join(self.paths)}); available keys: '
                       f'{", ".join(self.keys()) or "none"}')

    def series(self, key: str) -> Tuple[List[float], List[float]]:
        """(steps, values) of ``key`` (resolved as :meth:`resolve` does)."""
        mode, full = self.resolve(key)
        pts = [(rec['step'], rec[full]) for rec in getattr(self, mode) if _is_number(rec.get(full))]
        return [float(s) for s, _ in pts], [float(v) for _, v in pts]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _read_records(path: str) -> List[dict]:
    """The JSON objects of a log, one per line. A truncated last line (a run killed while writing) is skipped with a
    warning; any other unreadable line is an error."""
    with open(path, encoding='utf-8') as f:
        lines = [(i + 1, ln) for i, ln in enumerate(f) if ln.strip()]
    records = []
    for n, (lineno, line) in enumerate(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            if n == len(lines) - 1:
                warnings.warn(f'{path}:{lineno}: skipping an unreadable last line (truncated?): {err}')
                continue
            raise ValueError(f'{path}:{lineno}: not a JSON scalar log line: {err}') from None
        if not isinstance(rec, dict):
            raise ValueError(f'{path}:{lineno}: not a JSON scalar log line (expected an object)')
        if _is_number(rec.get('step')):
            records.append(rec)
    return records


def _timestamp_logs(run_dir: str) -> List[str]:
    """The LoggerHook log of one ``<timestamp>`` folder: ``vis_data/<timestamp>.json``, else its only other JSON."""
    vis = osp.join(run_dir, 'vis_data')
    own = osp.join(vis, osp.basename(osp.normpath(run_dir)) + '.json')
    if osp.isfile(own):
        return [own]
    others = sorted(p for p in glob.glob(osp.join(vis, '*.json')) if osp.basename(p) not in DUPLICATE_LOGS)
    return others[:1] if len(others) == 1 else []


def resolve_log_paths(path: str) -> List[List[str]]:
    """The runs a command-line path names, each as its list of JSON files.

    A ``.json`` file is one run; a ``<timestamp>`` folder (with ``vis_data/``) is its log; a work dir is one run made
    of all its ``<timestamp>/vis_data/<timestamp>.json`` in timestamp order (a resumed training continues in a new
    timestamp folder); a glob pattern is one run per match.
    """
    if osp.isfile(path):
        return [[path]]
    if osp.isdir(path):
        if osp.isdir(osp.join(path, 'vis_data')):
            found = _timestamp_logs(path)
        else:
            found = [p for d in sorted(glob.glob(osp.join(glob.escape(path), '*', ''))) for p in _timestamp_logs(d)]
        if not found:
            raise FileNotFoundError(f'no JSON scalar log in {path} (expected <timestamp>/vis_data/<timestamp>.json; '
                                    'a test run or a run without a LoggerHook writes none)')
        return [found]
    if glob.has_magic(path):
        matches = sorted(p for p in glob.glob(path) if osp.basename(p) not in DUPLICATE_LOGS)
        if not matches:
            raise FileNotFoundError(f'no file matches {path}')
        return [q for p in matches for q in resolve_log_paths(p)]
    raise FileNotFoundError(f'no such log file or folder: {path}')


def _run_name(paths: List[str]) -> str:
    """``<work dir name>/<timestamp>`` for ``.../<work dir>/<timestamp>/vis_data/<timestamp>.json``, else the path."""
    first = osp.abspath(paths[0])
    vis = osp.dirname(first)
    if osp.basename(vis) == 'vis_data':
        run = osp.dirname(vis)
        return osp.basename(osp.dirname(run)) if len(paths) > 1 else \
            f'{osp.basename(osp.dirname(run))}/{osp.basename(run)}'
    return osp.splitext(osp.basename(first))[0]


def load_json_log(paths: Union[str, Sequence[str]], name: Optional[str] = None) -> RunLog:
    """One run from one JSON log, or from several in order: a later file (a resumed training) replaces the records of
    the earlier ones from its first step on, per mode."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    log = RunLog(name or _run_name(paths), paths)
    for path in paths:
        records = _read_records(path)
        for mode in ('train', 'val'):
            new = [r for r in records if ('iter' in r) == (mode == 'train')]
            if new:
                first = new[0]['step']
                setattr(log, mode, [r for r in getattr(log, mode) if r['step'] < first] + new)
    if not log.train and not log.val:
        raise ValueError(f'no scalar records in {", ".join(paths)}')
    return log


def load_json_logs(paths: Sequence[str]) -> List[RunLog]:
    """The runs named by ``paths`` (files, ``<timestamp>`` folders, work dirs or glob patterns; see
    :func:`resolve_log_paths`), in order."""
    return [load_json_log(files) for path in paths for files in resolve_log_paths(str(path))]


def plot_curves(logs: Sequence[RunLog], keys: Sequence[str], legend: Optional[Sequence[str]] = None,
                out: Optional[str] = None, title: Optional[str] = None,
                subplot_size: Tuple[float, float] = (8.0, 3.0), dpi: int = 100):
    """One subplot per key (stacked), one line per run, x = iteration; written to ``out`` as a PNG if given.

    Args:
        logs: runs from :func:`load_json_logs`.
        keys: logged keys, exact or a ``/``-suffix (``abs_rel`` for ``synthetic/abs_rel``).
        legend: a label per run (default: the runs' names).
        out: PNG path, written atomically; None: nothing written.
        title: figure title.
        subplot_size: (width, height) of one subplot in inches: the PNG is ``width * dpi`` by
            ``height * dpi * len(keys)`` pixels.
        dpi: pixels per inch.

    Returns:
        The matplotlib ``Figure`` (``fig.axes[i]`` is the subplot of ``keys[i]``, its lines in the order of ``logs``).

    Raises:
        KeyError: a key is missing from a run (the message lists that run's keys).
        ValueError: no logs or keys, or a legend of the wrong length.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    if not logs or not keys:
        raise ValueError('plot_curves: need at least one log and one key')
    legend = [log.name for log in logs] if legend is None else list(legend)
    if len(legend) != len(logs):
        raise ValueError(f'plot_curves: {len(legend)} legend entries for {len(logs)} logs')
    data = [[log.series(key) for log in logs] for key in keys]  # resolve every key before drawing
    width, height = subplot_size
    fig = Figure(figsize=(width, height * len(keys)), dpi=dpi, layout='constrained')
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key, series in zip(axes, keys, data):
        marker = 'o' if max(len(xs) for xs, _ in series) <= 20 else None  # few points (validation): show them
        for label, (xs, ys) in zip(legend, series):
            ax.plot(xs, ys, label=label, marker=marker, markersize=3, linewidth=1.2)
        names = sorted({log.resolve(key)[1] for log in logs})
        ax.set_title(', '.join(names), fontsize='medium')
        ax.set_xlabel('iteration')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='best', fontsize='small')
    if title:
        fig.suptitle(title)
    if out is not None:
        atomic_save_figure(fig, out, dpi)
    return fig


def train_time_stats(log: RunLog, include_outliers: bool = False) -> Dict[str, float]:
    """Seconds per training iteration from the ``time`` of the training records (each the mean over the logging
    interval): ``mean``, ``std``, ``slowest``/``fastest`` (with their ``*_step``), ``records`` used and ``total``
    (mean times the last step). The first record (start-up, first batches) is left out unless ``include_outliers``.
    """
    recs = [r for r in log.train if _is_number(r.get('time'))]
    if not include_outliers and len(recs) > 1:
        recs = recs[1:]
    if not recs:
        raise ValueError(f'no training time in {log.name} ({", ".join(log.paths)})')
    times = [float(r['time']) for r in recs]
    slow, fast = max(recs, key=lambda r: r['time']), min(recs, key=lambda r: r['time'])
    mean = statistics.fmean(times)
    return dict(mean=mean, std=statistics.pstdev(times), slowest=float(slow['time']), slowest_step=slow['step'],
                fastest=float(fast['time']), fastest_step=fast['step'], records=len(recs),
                total=mean * max(r['step'] for r in log.train))
