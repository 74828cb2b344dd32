"""``tools/test.py --show-dir`` on the synthetic demos (random-init checkpoints, a test set of one or two scenes): the
written pictures have their panels, colour bars, error panel, defocus panel and stack row where
``DepthLocalVisualizer`` documents them, found from the picture itself (label strips by size, bars by gradient)."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmbokeh.visualization import colorize_values, depth_sample_layout
from mmbokeh.visualization.local_visualizer import BACKGROUND, LABEL_BACKGROUND

ROOT = Path(__file__).parents[2]
LOADER = ['test_dataloader.batch_size={n}', 'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
          'test_dataloader.dataset.num_samples={n}']
# config, test-set size, image size, stack frames, defocus map, cmaps of the bars (left to right)
DEMOS = {
    'sdnet': ('configs/sdnet/sdnet_synthetic.py', 2, (64, 64), 4, True, ['turbo', 'viridis', 'plasma']),
    'bokehdepth': ('configs/bokehdepth/dav2-s_synthetic.py', 1, (126, 126), 3, False, ['turbo', 'viridis']),
}


def lut(cmap):
    """The 256 colours of a colormap, [256, 3] (top of a bar = last)."""
    return colorize_values(np.linspace(0.0, 1.0, 256)[:, None], 0.0, 1.0, cmap)[:, 0]


def bar_ramp(cmap, p):
    """What a bar P rows high shows, top (largest) to bottom: colour round((P-1-y) / (P-1) * 255) at row y."""
    return colorize_values(np.linspace(1.0, 0.0, p)[:, None], 0.0, 1.0, cmap)[:, 0]


def in_lut(pixels, cmap, black=True):
    colours = {tuple(c) for c in lut(cmap)} | ({(0, 0, 0)} if black else set())
    return all(tuple(c) in colours for c in np.unique(pixels.reshape(-1, 3), axis=0))


def runs(mask):
    """[(start, length)] of the True runs of a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def crop(img, box):
    x, y, w, h = box
    return img[y:y + h, x:x + w]


def has_text(strip):
    pixels = strip.reshape(-1, 3)
    is_bg = (pixels == LABEL_BACKGROUND).all(1)
    return is_bg.mean() > 0.5 and (pixels[~is_bg].sum(1) < 3 * 128).sum() >= 10


@pytest.mark.timeout(900)
@pytest.mark.parametrize('demo', sorted(DEMOS))
def test_show_dir_pictures_have_their_panels_bars_and_stack(tmp_path, demo):
    from mmbokeh.apis import init_model
    config, n, (h, w), frames, defocus, cmaps = DEMOS[demo]
    torch.manual_seed(0)
    state = init_model(ROOT / config).state_dict()
    if 'depth_net.residual_conv.weight' in state:  # SDNet's zero-initialised residual: give the random model a map
        state['depth_net.residual_conv.weight'].normal_(std=0.05)
    torch.save({'state_dict': state}, tmp_path / 'model.pth')
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, 'tools/test.py', config, str(tmp_path / 'model.pth'), '--work-dir',
                          str(tmp_path / 'work'), '--show-dir', 'vis', '--cfg-options',
                          *[o.format(n=n) for o in LOADER]],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    written = sorted((tmp_path / 'work' / 'vis').glob('*.png'))
    assert len(written) == n  # one picture per test image
    drawn = cv2.imread(str(written[-1]))[..., ::-1].copy()  # RGB

    lay = depth_sample_layout((h, w), defocus=defocus, num_frames=frames)
    boxes, p, pw, label_h = lay['boxes'], lay['panel_h'], lay['panel_w'], lay['label_h']
    assert p == 192 and pw == 192  # small demos are enlarged to the minimum panel height
    assert drawn.shape == lay['size'] + (3, )
    bar_block = lay['bar_w'] + lay['tick_w']

    # by size: row 1's label strips (their top row is plain label background) are the panels and bar blocks
    strips = runs((drawn[0] == LABEL_BACKGROUND).all(1))
    widths = [pw, pw, pw, bar_block, pw, bar_block] + ([pw, bar_block] if defocus else [])
    assert [length for _, length in strips] == widths
    assert all((drawn[:label_h + p, a + length:b] == BACKGROUND).all()  # white gaps between them
               for (a, length), (b, _) in zip(strips, strips[1:]))
    names = ['image', 'gt', 'pred', 'depth_bar', 'error', 'error_bar'] + (['defocus', 'defocus_bar'] if defocus
                                                                          else [])
    assert [a for a, _ in strips] == [boxes[name][0] for name in names]

    # by gradient: the columns of row 1 that show exactly a colormap's bar ramp are its bar, each where documented
    band = drawn[label_h:label_h + p]
    for cmap, bar in zip(cmaps, lay['bars']):
        columns = np.flatnonzero((band == bar_ramp(cmap, p)[:, None]).all(axis=(0, 2)))
        x = boxes[bar][0]
        assert columns.tolist() == list(range(x, x + lay['bar_w'])), (cmap, bar)
        ticks = crop(drawn, boxes[f'{bar}_ticks']).sum(2) < 3 * 128  # labels at the top, middle and bottom
        assert all(third.sum() >= 10 for third in np.array_split(ticks, 3, axis=0)), bar

    # panels: the photo; depth in turbo (invalid black); the error in viridis; the defocus map in plasma
    image = crop(drawn, boxes['image'])
    assert image.std() > 5 and not in_lut(image, 'turbo')
    for name, cmap in [('gt', 'turbo'), ('pred', 'turbo'), ('error', 'viridis')] + ([('defocus', 'plasma')]
                                                                                  if defocus else []):
        panel = crop(drawn, boxes[name])
        assert in_lut(panel, cmap, black=name != 'defocus'), name
        assert len(np.unique(panel.reshape(-1, 3), axis=0)) > 3, name  # a map, not a flat fill
    if h * 3 == p:  # 64 px enlarged 3x with nearest neighbours: constant 3 x 3 blocks
        gt = crop(drawn, boxes['gt'])
        np.testing.assert_array_equal(gt, gt[::3, ::3].repeat(3, axis=0).repeat(3, axis=1))

    # labels above everything; row 2: one labelled frame per stack frame, labels differing by K or focus
    for name in names + [f'frame_{i}' for i in range(frames)]:
        assert has_text(crop(drawn, boxes[f'{name}_label'])), name
    row2 = drawn[boxes['frame_0'][1] - label_h]
    assert len(runs((row2 == LABEL_BACKGROUND).all(1))) == frames
    labels = [crop(drawn, boxes[f'frame_{i}_label']) for i in range(frames)]
    assert all(not np.array_equal(a, b) for a, b in zip(labels, labels[1:]))
    for i in range(frames):
        assert crop(drawn, boxes[f'frame_{i}']).std() > 2
