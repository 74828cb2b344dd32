import math

import numpy as np
import pytest
from PIL import Image

from mmbokeh.visualization.benchmark_plot import BenchmarkPanel, plot_benchmark


def test_bars_carry_the_measured_values_and_the_target_line(tmp_path):
    out = tmp_path / 'sub' / 'bench.png'
    panels = [BenchmarkPanel('stack', 'CPU ms', values={'exact': 1158.0, 'layered': 259.0, 'cuda': None,
                                                         'gpu': math.nan}, target=275.0),
              BenchmarkPanel('scaling', 'CPU ms', xlabel='r (px)', log_y=True,
                             series={'layered': ([8, 16, 32], [57.5, 94.6, 177.5]),
                                     'none': ([8, 16, 32], [38.0, 68.0, 129.0])})]
    fig = plot_benchmark(panels, out=str(out), title='t', subplot_size=(4.0, 3.0), dpi=50)
    bars, lines = fig.axes
    # unmeasured values (None, NaN) are left out; the rest keep their order and height
    assert [p.get_height() for p in bars.patches] == [1158.0, 259.0]
    assert [t.get_text() for t in bars.get_xticklabels()] == ['exact', 'layered']
    target = bars.get_lines()[-1]
    assert list(target.get_ydata()) == [275.0, 275.0] and target.get_label() == 'target'
    assert [list(line.get_ydata()) for line in lines.get_lines()] == [[57.5, 94.6, 177.5], [38.0, 68.0, 129.0]]
    assert lines.get_yscale() == 'log' and lines.get_xlabel() == 'r (px)'
    with Image.open(out) as png:
        assert png.size == (2 * 4 * 50, 3 * 50)
        assert np.asarray(png.convert('L')).std() > 5  # something is drawn


def test_a_panel_needs_bars_or_lines():
    with pytest.raises(ValueError, match='either values'):
        BenchmarkPanel('x', 'ms')
    with pytest.raises(ValueError, match='not both'):
        BenchmarkPanel('x', 'ms', values={'a': 1.0}, series={'b': ([1], [1])})
    with pytest.raises(ValueError, match='at least one panel'):
        plot_benchmark([])
