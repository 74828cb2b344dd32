"""Figures of the benchmark tools (``tools/analysis/benchmark_*.py``): one subplot per measurement, as bars (one
bar per variant) or lines (cost against a parameter), with the target a horizontal line and every bar labelled with
its value.

    panels = [BenchmarkPanel('5-level stack, one core', 'CPU ms', values={'exact': 1158, 'layered': 259},
                             target=275),
              BenchmarkPanel('one frame', 'CPU ms', xlabel='largest CoC radius r (px)',
                             series={'layered': ([8, 16, 32], [57.5, 94.6, 177.5])})]
    fig = plot_benchmark(panels, out='work_dirs/benchmarks/stack.png', title='benchmark_stack')
"""
import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

from mmbokeh.utils.io import atomic_save_figure

#: where the benchmark tools save their figure unless told otherwise (``--plot``)
DEFAULT_PLOT_DIR = 'work_dirs/benchmarks'


@dataclass
class BenchmarkPanel:
    """One subplot: bars (``values``: label -> number, drawn in order) or lines (``series``: label -> (xs, ys)).

    ``target`` draws a dashed horizontal line labelled ``target_label``; ``log_y`` a logarithmic y axis. Values that
    are None or NaN (not measured) are left out.
    """
    title: str
    ylabel: str
    values: Dict[str, Optional[float]] = field(default_factory=dict)
    series: Dict[str, Tuple[Sequence[float], Sequence[float]]] = field(default_factory=dict)
    xlabel: str = ''
    target: Optional[float] = None
    target_label: str = 'target'
    log_y: bool = False

    def __post_init__(self) -> None:
        if bool(self.values) == bool(self.series):
            raise ValueError(f'BenchmarkPanel {self.title!r}: give either values (bars) or series (lines), not '
                             f'{"both" if self.values else "neither"}')


def _measured(value: Optional[float]) -> bool:
    return value is not None and math.isfinite(value)


def _draw_bars(ax, panel: BenchmarkPanel) -> None:
    items = [(label, float(v)) for label, v in panel.values.items() if _measured(v)]
    labels, heights = [label for label, _ in items], [v for _, v in items]
    bars = ax.bar(range(len(items)), heights, color=[f'C{i % 10}' for i in range(len(items))])
    ax.set_xticks(range(len(items)), labels, rotation=20 if max(map(len, labels), default=0) > 8 else 0,
                  ha='right' if max(map(len, labels), default=0) > 8 else 'center', fontsize='small')
    ax.bar_label(bars, labels=[f'{v:.4g}' for v in heights], fontsize='small', padding=2)
    ax.margins(y=0.15)


def _draw_lines(ax, panel: BenchmarkPanel) -> None:
    for label, (xs, ys) in panel.series.items():
        ax.plot(list(xs), list(ys), marker='o', markersize=4, linewidth=1.4, label=label)
    ax.set_xlabel(panel.xlabel)


def plot_benchmark(panels: Sequence[BenchmarkPanel], out: Optional[str] = None, title: Optional[str] = None,
                   subplot_size: Tuple[float, float] = (6.0, 3.6), dpi: int = 100, ncols: int = 2):
    """Draw ``panels`` on a grid of ``ncols`` columns; written to ``out`` as a PNG (atomically) if given.

    Returns:
        The matplotlib ``Figure``; ``fig.axes[i]`` is ``panels[i]`` (its bars are ``ax.patches`` in the order of
        the measured values, its lines ``ax.get_lines()``, the target line last).
    """
    from matplotlib.figure import Figure
    if not panels:
        raise ValueError('plot_benchmark: need at least one panel')
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    width, height = subplot_size
    fig = Figure(figsize=(width * ncols, height * nrows), dpi=dpi, layout='constrained')
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        (_draw_bars if panel.values else _draw_lines)(ax, panel)
        if panel.log_y:
            ax.set_yscale('log')
        if _measured(panel.target):
            ax.axhline(panel.target, color='k', linestyle='--', linewidth=1, label=panel.target_label)
        ax.set_title(panel.title, fontsize='medium')
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, axis='y', alpha=0.3)
        if panel.series or _measured(panel.target):
            ax.legend(loc='best', fontsize='small')
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    if out is not None:
        atomic_save_figure(fig, out, dpi)
    return fig
