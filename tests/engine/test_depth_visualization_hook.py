import os
import uuid
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer

from mmbokeh.engine import DepthVisualizationHook
from mmbokeh.registry import HOOKS
from mmbokeh.structures import DepthDataSample
from mmbokeh.visualization import DepthLocalVisualizer, colorize_values, depth_sample_layout

H, W = 12, 16


def unique(prefix):
    return f'{prefix}_{uuid.uuid4().hex[:8]}'


def bgr_chw(seed):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (3, H, W), dtype=np.uint8))


def depth_sample(img_path, scale=1.0):
    ds = DepthDataSample(metainfo=dict(img_path=img_path))
    gt = torch.linspace(1.0, 3.0, H * W).view(1, H, W).clone()
    ds.gt_depth = PixelData(data=gt)
    ds.pred_depth = PixelData(data=gt * scale)
    return ds


def fake_runner(tmp_path, visualizer=None):
    vis = visualizer or DepthLocalVisualizer(name=unique('vis'), vis_backends=[dict(type='LocalVisBackend')],
                                             save_dir=str(tmp_path / 'vis_root'))
    return SimpleNamespace(visualizer=vis, iter=7, work_dir=str(tmp_path))


def rgb_panel(path, **layout):
    """The image panel of a saved drawing (RGB), shrunk back from the panel size (an exact 16x enlargement)."""
    x, y, w, h = depth_sample_layout((H, W), **layout)['boxes']['image']
    panel = cv2.imread(str(path))[y:y + h, x:x + w, ::-1]
    assert panel.shape == (16 * H, 16 * W, 3)
    return panel


def enlarged(img):
    """An [H, W, 3] image as the image panel shows it (linear, to the minimum panel height 192 = 16 H)."""
    return cv2.resize(np.ascontiguousarray(img), (16 * W, 16 * H), interpolation=cv2.INTER_LINEAR)


def test_test_iter_writes_one_png_per_image_from_inputs_and_files(tmp_path):
    real = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)  # BGR on disk
    cv2.imwrite(str(tmp_path / 'real.png'), real)
    runner = fake_runner(tmp_path)
    hook = HOOKS.build(dict(type='DepthVisualizationHook', draw=True, test_out_dir='show'))
    hook.before_run(runner)
    hook.before_test(runner)
    inputs = [bgr_chw(0), bgr_chw(1), bgr_chw(2)]
    outputs = [depth_sample('synthetic://demo/0'), depth_sample(str(tmp_path / 'real.png')),
               depth_sample('synthetic://demo/2')]
    hook.after_test_iter(runner, 0, dict(inputs=inputs, data_samples=outputs), outputs)
    out_dir = tmp_path / 'show'
    assert sorted(os.listdir(out_dir)) == sorted(['demo_0.png', f'{tmp_path.name}_real.png', 'demo_2.png'])
    # synthetic: the image panel is the uint8 CHW BGR input, turned into RGB
    np.testing.assert_array_equal(rgb_panel(out_dir / 'demo_2.png'),
                                  enlarged(inputs[2].permute(1, 2, 0).numpy()[..., ::-1]))
    # real: read from img_path
    np.testing.assert_array_equal(rgb_panel(out_dir / f'{tmp_path.name}_real.png'), enlarged(real[..., ::-1]))
    assert cv2.imread(str(out_dir / 'demo_0.png')).shape == depth_sample_layout((H, W))['size'] + (3, )


@pytest.mark.parametrize('key, units, label', [('stack_k', None, 'k'), ('stack_focus', None, 'focus'),
                                               ('stack_focus', 'm', 'focus'),
                                               ('stack_focus', 'dfv_normalised', 'focus {:.2f}')])
def test_stack_in_the_inputs_is_drawn_with_its_k_or_focus(tmp_path, key, units, label):
    """Bokeh stacks are labelled by K, focal stacks by focus distance in metres, or unitless when the sample's
    ``focus_units`` says the focus is normalised (Mobile Depth)."""
    runner = fake_runner(tmp_path)
    hook = DepthVisualizationHook(draw=True, test_out_dir='show')
    hook.before_run(runner)
    stack = torch.zeros(2, 4, 3, 4 * H, 4 * W, dtype=torch.uint8)
    stack[1, :, 2] = 255  # sample 1: pure red frames (BGR)
    inputs = {'img': [bgr_chw(0), bgr_chw(1)], 'stack': list(stack), key: [torch.tensor([1., 2, 3, 4])] * 2}
    outputs = [depth_sample('synthetic://demo/0'), depth_sample('synthetic://demo/1')]
    if units is not None:
        for ds in outputs:
            ds.set_metainfo(dict(focus_units=units))
    hook.after_test_iter(runner, 0, dict(inputs=inputs, data_samples=outputs), outputs)
    drawn = cv2.imread(str(tmp_path / 'show' / 'demo_1.png'))[..., ::-1]
    layout = depth_sample_layout((H, W), num_frames=4)
    assert drawn.shape == layout['size'] + (3, )  # row 1: image | gt | pred | bar | error | bar; row 2: 4 frames
    x, y, w, h = layout['boxes']['frame_3']
    assert (drawn[y:y + h, x:x + w] == [255, 0, 0]).all()  # red, in RGB
    image = inputs['img'][1].permute(1, 2, 0).numpy()[..., ::-1]

    def expected(frames, stack_label=label):
        return runner.visualizer.draw_depth_sample(image, outputs[1], stack=frames, stack_values=[1., 2, 3, 4],
                                                   stack_label=stack_label)

    np.testing.assert_array_equal(drawn, expected(stack[1]))  # sample 1's own stack, values and kind of label
    assert not np.array_equal(drawn, expected(stack[0]))
    for other in {'k', 'focus', 'focus {:.2f}'} - {label}:
        assert not np.array_equal(drawn, expected(stack[1], other))


def test_test_iter_without_out_dir_uses_vis_backends(tmp_path):
    runner = fake_runner(tmp_path)
    hook = DepthVisualizationHook(draw=True)
    hook.before_run(runner)
    hook.before_test(runner)
    for b in range(2):
        outputs = [depth_sample(f'synthetic://demo/{2 * b + i}') for i in range(2)]
        hook.after_test_iter(runner, b, dict(inputs=torch.stack([bgr_chw(0), bgr_chw(1)])), outputs)
    names = sorted(os.listdir(tmp_path / 'vis_root' / 'vis_data' / 'vis_image'))
    assert names == ['test_0_1.png', 'test_1_2.png', 'test_2_3.png', 'test_3_4.png']


def test_val_draws_first_sample_every_interval(tmp_path):
    runner = fake_runner(tmp_path)
    hook = DepthVisualizationHook(draw=True, interval=2)
    hook.before_run(runner)
    for b in range(5):
        outputs = [depth_sample(f'synthetic://val/{b}_{i}') for i in range(2)]
        hook.after_val_iter(runner, b, dict(inputs=[bgr_chw(0), bgr_chw(1)]), outputs)
    names = sorted(os.listdir(tmp_path / 'vis_root' / 'vis_data' / 'vis_image'))
    assert names == ['val_1_0_7.png', 'val_3_0_7.png']  # batches 1 and 3 (every 2nd), first sample, step = iter


@pytest.mark.parametrize('draw', [False, True])
def test_draw_false_is_a_no_op(tmp_path, draw):
    # A visualizer that does write (test_out_dir and the vis backends): draw=True is the control that the same calls
    # would leave files, so an empty work dir with draw=False means the hook itself did nothing.
    runner = fake_runner(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hook = DepthVisualizationHook(draw=draw, interval=1, test_out_dir='show')
    assert any('draw=False' in str(w.message) for w in caught) == (not draw)
    hook.before_run(runner)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, dict(inputs=[bgr_chw(0)]), [depth_sample('synthetic://demo/0')])
    hook.after_val_iter(runner, 0, dict(inputs=[bgr_chw(0)]), [depth_sample('synthetic://val/0')])
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*.png'))
    assert written == (['show/demo_0.png', 'vis_root/vis_data/vis_image/val_0_7.png'] if draw else [])


def test_errors(tmp_path):
    with pytest.raises(TypeError, match='DepthLocalVisualizer'):
        DepthVisualizationHook(draw=True).before_run(fake_runner(tmp_path, visualizer=Visualizer(name=unique('p'))))
    runner = fake_runner(tmp_path)
    hook = DepthVisualizationHook(draw=True, test_out_dir='show')
    with pytest.raises(KeyError, match=r"no inputs\['img'\]"):
        hook.after_test_iter(runner, 0, dict(), [depth_sample('synthetic://demo/0')])
    with pytest.raises(ValueError, match=r'\[3, H, W\]'):
        hook.after_test_iter(runner, 0, dict(inputs=[torch.zeros(H, W)]), [depth_sample('synthetic://demo/0')])
    with pytest.raises(ValueError, match='interval'):
        DepthVisualizationHook(draw=True, interval=0)


class ToyDepthModel(BaseModel):
    """Predicts 1.1 x the ground truth."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        for ds in data_samples:
            ds.pred_depth = PixelData(data=ds.gt_depth.data * 1.1)
        return data_samples


class ToyDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return dict(inputs=bgr_chw(i), data_samples=depth_sample(f'synthetic://toy/{i}'))


def test_runner_test_end_to_end(tmp_path):
    runner = Runner(
        model=ToyDepthModel(),
        work_dir=str(tmp_path),
        test_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                             batch_size=2, num_workers=0, collate_fn=dict(type='pseudo_collate')),
        test_cfg=dict(),
        test_evaluator=dict(type='mmbokeh.DepthMetric'),
        custom_hooks=[dict(type='mmbokeh.DepthVisualizationHook', draw=True, test_out_dir='show')],
        visualizer=dict(type='mmbokeh.DepthLocalVisualizer', name=unique('runner_vis')),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmbokeh',
        experiment_name=unique('exp'))
    metrics = runner.test()
    assert metrics['abs_rel'] == pytest.approx(0.1, rel=1e-5)
    assert metrics['d1'] == 1.0
    assert sorted(os.listdir(tmp_path / 'show')) == [f'toy_{i}.png' for i in range(5)]
    expected = bgr_chw(3).permute(1, 2, 0).numpy()[..., ::-1]
    np.testing.assert_array_equal(rgb_panel(tmp_path / 'show' / 'toy_3.png'), enlarged(expected))
    # the error panel: abs_rel 0.1 everywhere, one colour, that of 0.1 on the error bar's 0 .. 0.5
    x, y, w, h = depth_sample_layout((H, W))['boxes']['error']
    error = cv2.imread(str(tmp_path / 'show' / 'toy_3.png'))[y:y + h, x:x + w, ::-1]
    assert (error == colorize_values(np.full((1, 1), 0.1), 0.0, 0.5, 'viridis')[0, 0]).all()
