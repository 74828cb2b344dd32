"""The benchmark tools print their measurements and save them as a figure (tiny sizes: behaviour, not speed)."""
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).parents[2]


def _run(tool: str, *args: str) -> str:
    res = subprocess.run([sys.executable, f'tools/analysis/{tool}', *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_benchmark_stack_saves_its_figure(tmp_path):
    out = tmp_path / 'stack.png'
    stdout = _run('benchmark_stack.py', '--height', '24', '--width', '32', '--levels', '2', '--reps', '1',
                  '--skip-train', '--plot', str(out))
    assert 'layered / exact' in stdout and f'figure: {out}' in stdout
    with Image.open(out) as png:
        assert png.size == (1200, 360)  # two panels side by side, 6 x 3.6 in at 100 dpi


def test_benchmark_train_step_saves_its_figure(tmp_path):
    out = tmp_path / 'step.png'
    stdout = _run('benchmark_train_step.py', 'configs/bokehdepth/dav2-s_synthetic.py', '--batch', '1', '--frames', '1',
                  '--size', '28', '--steps', '1', '--threads', '1', '--policies', 'config', 'none', '--plot', str(out))
    assert 'config' in stdout and 'none' in stdout and f'figure: {out}' in stdout
    with Image.open(out) as png:
        assert png.size == (1200, 360)
