"""DepthLocalVisualizer: every panel, colour bar, label and stack frame sits where its docstring says, with the
colours it promises (checked against colorize_depth / colorize_values and independent size formulas)."""
import os
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from mmbokeh.registry import VISUALIZERS
from mmbokeh.structures import DepthDataSample
from mmbokeh.visualization import DepthLocalVisualizer, colorize_depth, colorize_values, depth_sample_layout
from mmbokeh.visualization.local_visualizer import BACKGROUND, LABEL_BACKGROUND

H, W = 32, 48  # enlarged 6x to the default minimum panel height of 192
F = 6
P, PW = 192, 288


def unique(prefix):
    return f'{prefix}_{uuid.uuid4().hex[:8]}'  # mmengine keeps visualizers by name


def crop(img, box):
    x, y, w, h = box
    return img[y:y + h, x:x + w]


def up(img, f=F):
    return img.repeat(f, axis=0).repeat(f, axis=1)


def make_stack(s=3, values=(3.0, 6.0, 9.0)):
    """Input frames [S, 3, H, W] (uint8 BGR, as packed by PackDepthInputs): frame i is pure blue of 80 + 80 i."""
    stack = torch.zeros(s, 3, H, W, dtype=torch.uint8)
    for i in range(s):
        stack[i, 0] = 80 + 80 * i
    return dict(stack=stack, stack_values=torch.tensor(values[:s]))


def make_sample(scale=1.1, pred_shape=None, defocus=False):
    gt = torch.linspace(1.0, 4.0, H * W).view(1, H, W).clone()
    gt[0, 0, :5] = 0.0  # invalid
    pred = gt * scale
    pred[0, 0, :5] = 2.0  # valid where gt is not
    if pred_shape is not None:
        pred = torch.full((1, ) + pred_shape, 2.0)
        pred[0, :, :3] = 9.0  # beyond gt's range: clipped to its top colour
    ds = DepthDataSample(metainfo=dict(img_path='synthetic://demo/0'))
    ds.gt_depth = PixelData(data=gt)
    ds.pred_depth = PixelData(data=pred)
    if defocus:
        ds.pred_defocus = PixelData(data=torch.linspace(0, 1, H * W).view(1, H, W))
    return ds


def image():
    return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)


def ramp(cmap, depth=False, p=P):
    """The colours a bar shows top (largest) to bottom (smallest), [P, 3]: independent of the value range."""
    if depth:
        return colorize_depth(np.linspace(2.0, 1.0, p)[:, None], vmin=1.0, vmax=2.0, cmap=cmap)[:, 0]
    return colorize_values(np.linspace(1.0, 0.0, p)[:, None], 0.0, 1.0, cmap)[:, 0]


def has_text(strip, background=LABEL_BACKGROUND):
    """A label strip: its background with some text pixels (dark) in it."""
    pixels = strip.reshape(-1, 3)
    is_bg = (pixels == background).all(1)
    return is_bg.mean() > 0.5 and (pixels[~is_bg].sum(1) < 3 * 128).sum() >= 10


def test_layout_sizes_follow_the_documented_formulas():
    lay = depth_sample_layout((64, 64), defocus=True, num_frames=4)
    p, pw, gap, bar_w, bars = lay['panel_h'], lay['panel_w'], lay['gap'], lay['bar_w'], lay['bars']
    assert (p, pw, gap, bar_w) == (192, 192, 6, 16)  # min height 192, gap max(4, P // 32), bar max(12, P // 12)
    assert bars == ['depth_bar', 'error_bar', 'defocus_bar']
    bar_block = bar_w + lay['tick_w']
    row1 = 5 * pw + 3 * bar_block + 7 * gap  # image gt pred | bar | error | bar | defocus | bar
    row2 = 4 * pw + 3 * gap
    assert lay['size'] == (2 * (lay['label_h'] + p) + gap, max(row1, row2))
    b = lay['boxes']
    order = ['image', 'gt', 'pred', 'depth_bar', 'error', 'error_bar', 'defocus', 'defocus_bar']
    xs = [b[n][0] for n in order]
    assert xs == sorted(xs) and xs[0] == 0
    assert all(b[n][1] == lay['label_h'] and b[n][3] == p for n in order)  # one row, below the label strips
    assert all(b[f'{n}_label'][1] == 0 and b[f'{n}_label'][3] == lay['label_h'] for n in order)
    assert b['gt'][0] == pw + gap and b['error'][0] == b['depth_bar'][0] + bar_block + gap
    assert [b[f'frame_{i}'] for i in range(4)] == [(i * (pw + gap), 2 * lay['label_h'] + p + gap, pw, p)
                                                   for i in range(4)]
    assert 'frame_4' not in b
    # NYU keeps its resolution and gets a larger font; huge images are shrunk to max_panel_height
    nyu = depth_sample_layout((480, 640))
    assert (nyu['panel_h'], nyu['panel_w']) == (480, 640) and nyu['label_h'] > lay['label_h']
    assert nyu['gap'] == 15 and nyu['bar_w'] == 40
    big = depth_sample_layout((3000, 1500), max_panel_height=1080)
    assert (big['panel_h'], big['panel_w']) == (1080, 540)
    only_image = depth_sample_layout((10, 20), gt=False, pred=False, error=False)
    assert sorted(only_image['boxes']) == ['image', 'image_label'] and only_image['size'][1] == 384
    with pytest.raises(ValueError, match='error panel needs'):
        depth_sample_layout((10, 10), gt=False)
    with pytest.raises(ValueError, match='min_panel_height'):
        depth_sample_layout((10, 10), min_panel_height=300, max_panel_height=200)


def test_panels_bars_and_error_where_documented():
    vis = DepthLocalVisualizer(name=unique('vis'))
    img, ds = image(), make_sample(scale=1.1)  # abs_rel = 0.1 on every valid pixel
    drawn = vis.draw_depth_sample(img, ds)
    lay = vis.last_layout
    assert lay == depth_sample_layout((H, W))
    assert drawn.dtype == np.uint8 and drawn.shape == lay['size'] + (3, )
    b = lay['boxes']
    assert (lay['panel_h'], lay['panel_w']) == (P, PW) and set(lay['bars']) == {'depth_bar', 'error_bar'}
    # the image panel is the input enlarged to the panel height (linear)
    np.testing.assert_array_equal(crop(drawn, b['image']), cv2.resize(img, (PW, P), interpolation=cv2.INTER_LINEAR))
    # gt and prediction: enlarged with nearest neighbours, on gt's colour range; invalid black
    gt, pred = ds.gt_depth.data, ds.pred_depth.data
    vmin, vmax = float(gt[gt > 0].min()), float(gt.max())
    np.testing.assert_array_equal(crop(drawn, b['gt']), up(colorize_depth(gt, vmin=vmin, vmax=vmax)))
    np.testing.assert_array_equal(crop(drawn, b['pred']), up(colorize_depth(pred, vmin=vmin, vmax=vmax)))
    assert (crop(drawn, b['gt'])[:F, :5 * F] == 0).all()
    # the depth bar: every column of its strip is the colormap from vmax (top) to vmin (bottom)
    bar = crop(drawn, b['depth_bar'])
    expected = colorize_depth(np.linspace(vmax, vmin, P)[:, None], vmin=vmin, vmax=vmax)[:, 0]
    assert (bar == expected[:, None]).all()
    np.testing.assert_array_equal(expected, ramp('turbo', depth=True))
    # the error panel: one colour (0.1) on valid pixels, black where gt is invalid
    err = crop(drawn, b['error'])
    assert (err[:F, :5 * F] == 0).all()
    colours = np.unique(err[F:].reshape(-1, 3), axis=0)
    assert len(colours) == 1
    np.testing.assert_array_equal(colours[0], colorize_values(np.full((1, 1), 0.1), 0.0, 0.5, 'viridis')[0, 0])
    # ... which is the error bar's colour at 0.1 of its 0 .. 0.5 range (row 80 % down from the top)
    ebar = crop(drawn, b['error_bar'])
    assert (ebar == ebar[:, :1]).all()
    rows = np.flatnonzero((ebar[:, 0] == colours[0]).all(1))
    assert len(rows) and abs(rows.mean() - (P - 1) * (1 - 0.1 / 0.5)) < 2
    np.testing.assert_array_equal(ebar[:, 0], ramp('viridis'))
    assert (ebar[0] != ebar[-1]).any()
    # labels above every panel and bar, tick labels next to each bar; gaps are background
    for name in ['image', 'gt', 'pred', 'depth_bar', 'error', 'error_bar']:
        assert has_text(crop(drawn, b[f'{name}_label'])), name
    for name in lay['bars']:
        ticks = crop(drawn, b[f'{name}_ticks'])
        dark = (ticks.sum(2) < 3 * 128)
        thirds = np.array_split(dark, 3, axis=0)
        assert all(t.sum() >= 10 for t in thirds), name  # a label at the top, middle and bottom
    x, y, w, h = b['image']
    assert (drawn[y:y + h, x + w:b['gt'][0]] == BACKGROUND).all()


def test_labels_say_what_they_show():
    vis = DepthLocalVisualizer(name=unique('vis'))
    img = image()
    a = vis.draw_depth_sample(img, make_sample(scale=1.1))
    b = vis.draw_depth_sample(img, make_sample(scale=1.3))
    lay = vis.last_layout['boxes']
    # the error label carries the mean abs_rel; the other labels do not depend on the data
    assert not np.array_equal(crop(a, lay['error_label']), crop(b, lay['error_label']))
    np.testing.assert_array_equal(crop(a, lay['gt_label']), crop(b, lay['gt_label']))
    assert not np.array_equal(crop(a, lay['gt_label']), crop(a, lay['pred_label']))


def test_stack_row_frames_with_k_or_focus():
    vis = DepthLocalVisualizer(name=unique('vis'))
    img, ds = image(), make_sample()
    drawn = vis.draw_depth_sample(img, ds, **make_stack())
    lay = vis.last_layout
    b = lay['boxes']
    frames = sorted(n for n in b if n.startswith('frame_') and not n.endswith('_label'))
    assert frames == ['frame_0', 'frame_1', 'frame_2']
    assert drawn.shape[0] == 2 * (lay['label_h'] + P) + lay['gap']
    for i in range(3):
        frame = crop(drawn, b[f'frame_{i}'])
        assert (frame == [0, 0, 80 + 80 * i]).all()  # blue in BGR becomes RGB (0, 0, v), enlarged
        assert has_text(crop(drawn, b[f'frame_{i}_label']))
    labels = [crop(drawn, b[f'frame_{i}_label']) for i in range(3)]
    assert not np.array_equal(labels[0], labels[1])  # K=3 vs K=6
    x_end = b['frame_2'][0] + PW
    assert (drawn[b['frame_0'][1]:, x_end:] == BACKGROUND).all()
    # focus labels read differently from K labels of the same values; unlabelled frames still get their index
    focus = vis.draw_depth_sample(img, ds, **make_stack(), stack_label='focus')
    assert not np.array_equal(crop(focus, b['frame_0_label']), labels[0])
    np.testing.assert_array_equal(crop(focus, b['frame_0']), crop(drawn, b['frame_0']))
    plain = vis.draw_depth_sample(img, ds, stack=make_stack()['stack'])
    assert has_text(crop(plain, b['frame_0_label']))
    with pytest.raises(ValueError, match='2 stack_values for 3 frames'):
        vis.draw_depth_sample(img, ds, stack=make_stack()['stack'], stack_values=[1.0, 2.0])
    with pytest.raises(ValueError, match='stack_label'):
        vis.draw_depth_sample(img, ds, **make_stack(), stack_label='aperture')


def test_defocus_panel_and_its_bar():
    vis = DepthLocalVisualizer(name=unique('vis'))
    ds = make_sample(defocus=True)
    drawn = vis.draw_depth_sample(image(), ds)
    lay = vis.last_layout
    b = lay['boxes']
    assert lay['bars'] == ['depth_bar', 'error_bar', 'defocus_bar']
    assert b['defocus'][0] > b['error_bar'][0] and b['defocus_bar'][0] > b['defocus'][0]
    np.testing.assert_array_equal(crop(drawn, b['defocus']),
                                  up(colorize_values(ds.pred_defocus.data, 0.0, 1.0, 'plasma')))
    bar = crop(drawn, b['defocus_bar'])
    np.testing.assert_array_equal(bar[:, 3], ramp('plasma'))
    assert has_text(crop(drawn, b['defocus_label']))
    assert drawn.shape[1] == b['defocus_bar'][0] + lay['bar_w'] + lay['tick_w']
    # draw_pred=False drops every prediction: no pred, error or defocus panel
    vis.draw_depth_sample(image(), ds, draw_pred=False)
    assert sorted(n for n in vis.last_layout['boxes'] if '_' not in n) == ['gt', 'image']


def test_error_of_a_smaller_prediction_and_percentile_range():
    vis = DepthLocalVisualizer(name=unique('vis'), error_max=None)
    ds = make_sample(pred_shape=(H // 2, W // 2))
    drawn = vis.draw_depth_sample(image(), ds)
    b = vis.last_layout['boxes']
    gt = ds.gt_depth.data[0].numpy().astype(np.float64)
    pred = up(ds.pred_depth.data[0].numpy().astype(np.float64), 2)  # nearest to gt's size
    valid = gt > 0
    err = np.where(valid, np.abs(pred - gt) / np.where(valid, gt, 1), 0)
    top = np.percentile(err[valid], 95)
    np.testing.assert_array_equal(crop(drawn, b['error']), up(colorize_values(err, 0.0, top, 'viridis', valid=valid)))
    vmin, vmax = float(gt[valid].min()), float(gt.max())  # the prediction shares gt's range, enlarged 2 x 6
    np.testing.assert_array_equal(crop(drawn, b['pred']),
                                  up(colorize_depth(ds.pred_depth.data, vmin=vmin, vmax=vmax), 2 * F))


def test_draw_flags_and_missing_fields():
    vis = DepthLocalVisualizer(name=unique('vis'), cmap='spectral_r')
    img, ds = image(), make_sample(pred_shape=(H // 2, W // 2))
    only_pred = vis.draw_depth_sample(img, ds, draw_gt=False)
    b = vis.last_layout['boxes']
    assert sorted(n for n in b if '_' not in n) == ['image', 'pred'] and 'depth_bar' in b
    # without gt the colour range is the prediction's own (2 .. 9 m)
    pred_small = colorize_depth(ds.pred_depth.data, cmap='spectral_r')
    np.testing.assert_array_equal(crop(only_pred, b['pred']), up(pred_small, 2 * F))
    drawn = vis.draw_depth_sample(img, None)
    assert drawn.shape == vis.last_layout['size'] + (3, ) and drawn.shape[1] == PW
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        vis.draw_depth_sample(np.zeros((H, W, 4), np.uint8), ds)
    with pytest.raises(ValueError, match='cmap'):
        DepthLocalVisualizer(name=unique('vis'), cmap='jet')
    with pytest.raises(ValueError, match='error_max'):
        DepthLocalVisualizer(name=unique('vis'), error_max=0)


def test_large_images_keep_their_resolution_up_to_the_maximum():
    big = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    vis = DepthLocalVisualizer(name=unique('vis'), max_panel_height=240)
    drawn = vis.draw_depth_sample(big, None)
    np.testing.assert_array_equal(crop(drawn, vis.last_layout['boxes']['image']),
                                  cv2.resize(big, (160, 240), interpolation=cv2.INTER_AREA))
    same = DepthLocalVisualizer(name=unique('vis')).draw_depth_sample(big, None)
    np.testing.assert_array_equal(same[-300:], big)


def test_add_datasample_out_file_is_atomic(tmp_path):
    vis = DepthLocalVisualizer(name=unique('vis'))
    img, ds = image(), make_sample()
    out = tmp_path / 'out' / 'a.png'
    vis.add_datasample('a', img, ds, out_file=str(out), **make_stack())
    assert os.listdir(tmp_path / 'out') == ['a.png']
    written = cv2.imread(str(out))[..., ::-1]  # back to RGB
    np.testing.assert_array_equal(written, vis.draw_depth_sample(img, ds, **make_stack()))
    np.testing.assert_array_equal(vis.get_image(), written)


def test_default_local_vis_backend_through_registry(tmp_path):
    with DefaultScope.overwrite_default_scope('mmbokeh'):
        vis = VISUALIZERS.build(dict(type='DepthLocalVisualizer', name=unique('vis'),
                                     vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path)))
    assert isinstance(vis, DepthLocalVisualizer)
    vis.add_datasample('test_0.png', image(), make_sample(), step=3, **make_stack())
    path = tmp_path / 'vis_data' / 'vis_image' / 'test_0.png_3.png'
    assert path.is_file()
    assert cv2.imread(str(path)).shape == depth_sample_layout((H, W), num_frames=3)['size'] + (3, )


def test_depth_tick_labels_in_metres_differ_on_narrow_ranges():
    from mmbokeh.visualization.local_visualizer import _metres_ticks
    assert _metres_ticks(0.52, 3.0) == ['3.00 m', '1.76 m', '0.52 m']
    assert _metres_ticks(1.0, 80.0) == ['80.0 m', '40.5 m', '1.0 m']
    assert _metres_ticks(9.96, 10.1) == ['10.10 m', '10.03 m', '9.96 m']  # not 10.1, 10.0, 10.0
    assert _metres_ticks(0.5, 0.51) == ['0.510 m', '0.505 m', '0.500 m']
