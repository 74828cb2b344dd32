"""tools/analysis/model_complexity.py counts the neck through ``model(inputs, mode='tensor')``: with a stack the
neck's FLOPs are counted and the encoder's grow by the stack frames' blocks up to the fused tap."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _parts(config: str, *args: str) -> dict:
    res = subprocess.run([sys.executable, 'tools/analysis/model_complexity.py', config, '--shape', '224', '224',
                          *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [re.match(r'(encoder|neck|decoder|total)\s+([\d.]+)\s+([\d.]+)$', line) for line in res.stdout.splitlines()]
    return {m[1]: (float(m[2]), float(m[3])) for m in rows if m}


def test_neck_flops_are_counted_through_tensor_mode():
    plain = _parts('configs/depth_anything_v2/dav2-s_synthetic.py')
    fused = _parts('configs/bokehdepth/dav2-s_synthetic.py', '--frames', '2')
    assert plain['neck'] == (0.0, 0.0)
    assert fused['neck'][0] > 1 and fused['neck'][1] > 0.05  # one DSFA block at tap 0: ~3.9 M parameters
    # the 2 stack frames run blocks 0-2 of 12 (fused tap 0 = block 2): encoder FLOPs x (1 + 2 * 3 / 12) = x 1.5
    assert abs(fused['encoder'][1] / plain['encoder'][1] - 1.5) < 0.02
    assert abs(fused['total'][1] - sum(fused[p][1] for p in ('encoder', 'neck', 'decoder'))) < 0.02
