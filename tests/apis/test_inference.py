"""init_model / inference_model / tools/infer.py on the synthetic demo config."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from mmbokeh.apis import inference_model, init_model

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/depth_anything_v2/dav2-s_synthetic.py'


def test_forward_depth_and_inference_model(tmp_path):
    model = init_model(CONFIG)
    assert not model.training
    depth = model.forward_depth(torch.randn(2, 3, 28, 42))
    assert depth.shape == (2, 28, 42) and (depth > 0).all() and (depth < 10).all()
    img = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / 'a.png'
    cv2.imwrite(str(path), img)
    from_array, from_file = inference_model(model, [img, str(path)])
    assert from_array.pred_depth.data.shape == (1, 30, 40)
    torch.testing.assert_close(from_array.pred_depth.data, from_file.pred_depth.data)


def test_infer_tool_writes_npy_and_png(tmp_path):
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': init_model(CONFIG).state_dict()}, ckpt)
    src = tmp_path / 'images'
    (src / 'sub').mkdir(parents=True)
    names = ['sub/b.png', 'sub_b.png', 'a.png', 'a.jpg']  # each pair once overwrote each other's outputs
    for i, name in enumerate(names):
        cv2.imwrite(str(src / name), np.full((28, 35, 3), 40 * i, np.uint8))
    out = src / 'depth'  # inside the input folder: its PNGs must never become inputs

    def run():
        res = subprocess.run([sys.executable, str(ROOT / 'tools/infer.py'), str(CONFIG), str(ckpt), str(src),
                              '--out', str(out)], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return res.stdout

    assert '4 predicted, 0 already done' in run()
    stems = ['sub/b', 'sub_b', 'a_png', 'a_jpg']
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob('*') if p.is_file())
    assert written == sorted(f'{s}.{ext}' for s in stems for ext in ('npy', 'png'))
    depths = [np.load(out / f'{s}.npy') for s in stems]
    assert all(d.shape == (28, 35) and d.dtype == np.float32 for d in depths)
    assert cv2.imread(str(out / 'sub_b.png')).shape == (28, 35, 3)
    assert len({d.tobytes() for d in depths}) == 4  # four different inputs, four different predictions
    assert '0 predicted, 4 already done' in run()  # the rerun skips all and reads none of its own outputs
