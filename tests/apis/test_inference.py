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
    src = tmp_path / 'images' / 'scene'
    src.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(src / f'{i}.jpg'), np.full((28, 35, 3), 40 * i, np.uint8))
    out = tmp_path / 'out'
    res = subprocess.run([sys.executable, str(ROOT / 'tools/infer.py'), str(CONFIG), str(ckpt),
                          str(tmp_path / 'images'), '--out', str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    depth = np.load(out / 'scene_0.npy')
    assert depth.shape == (28, 35) and depth.dtype == np.float32
    assert cv2.imread(str(out / 'scene_1.png')).shape == (28, 35, 3)
    assert sorted(p.name for p in out.iterdir()) == ['scene_0.npy', 'scene_0.png', 'scene_1.npy', 'scene_1.png']
