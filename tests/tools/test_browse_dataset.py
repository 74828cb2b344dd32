"""tools/browse_dataset.py saves the image, the coloured depth and the labelled stack grid of each sample."""
import importlib.util
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location('browse_dataset', ROOT / 'tools' / 'browse_dataset.py')
browse_dataset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browse_dataset)


def test_browse_synthetic_focal_stacks(tmp_path):
    out = tmp_path / 'browse'
    browse_dataset.main([str(ROOT / 'configs/_base_/datasets/synthetic_focal_stack.py'), '--output-dir', str(out),
                         '--max-samples', '2', '--phase', 'val', '--no-progress', '--cfg-options',
                         'val_dataloader.dataset.img_size=[28,42]'])
    files = sorted(p.name for p in out.iterdir())
    assert files == [f'{i:06d}_val_{i:06d}_{kind}.png' for i in range(2) for kind in ('depth', 'img', 'stack')]
    for i in range(2):
        for kind, shape in (('img', (28, 42, 3)), ('depth', (28, 42, 3)), ('stack', (56, 126, 3))):
            image = cv2.imread(str(out / f'{i:06d}_val_{i:06d}_{kind}.png'))
            assert image is not None and image.shape == shape and image.std() > 0
    assert not list(out.glob('.*'))  # no temporary file left


def test_stack_label_follows_the_units():
    assert browse_dataset.stack_label({'stack_k': None}, {}) == 'k'
    assert browse_dataset.stack_label({'stack_focus': None}, {'focus_units': 'm'}) == 'focus'
    assert browse_dataset.stack_label({'stack_focus': None}, {'focus_units': 'dfv_normalised'}) == 'f={:.2f}'
