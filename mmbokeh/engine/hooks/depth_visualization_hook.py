"""DepthVisualizationHook: draw depth predictions during validation and testing."""
import os.path as osp
import warnings
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.hooks import Hook

from mmbokeh.registry import HOOKS
from mmbokeh.utils.io import output_stem

SYNTHETIC_PREFIX = 'synthetic://'


@HOOKS.register_module()
class DepthVisualizationHook(Hook):
    """Draws each sample with the runner's DepthLocalVisualizer (labelled image, gt, prediction, abs_rel error and
    defocus panels with colour bars, the stack below; see its docstring) following mmseg's SegVisualizationHook
    conventions.

    Validation: the first sample of every ``interval``-th batch goes to the vis backends as ``val_<file name>`` at
    the current training iteration. Test: every sample is drawn; with ``test_out_dir`` each becomes
    ``<test_out_dir>/<parent folder>_<file stem>.png`` (a relative ``test_out_dir`` is taken inside
    ``runner.work_dir``), otherwise it goes to the vis backends as ``test_<file name>`` at step 1, 2, ...
    (``tools/test.py --show-dir`` can set the visualizer's save_dir, as mmseg does, or ``test_out_dir``).
    Images are read from ``img_path`` (RGB) or, for ``synthetic://`` paths, taken from ``data_batch['inputs']['img']``
    (uint8 [3, H, W] BGR); a stack in ``data_batch['inputs']`` is drawn with its K (``stack_k``, labels ``K=10``) or
    focus distances (``stack_focus``, labels ``focus 0.30 m``).

    Args:
        draw: draw at all; False makes the hook a no-op.
        interval: validation batches between drawings.
        show: display the drawings (the vis backends are then dropped, nothing is stored, as in mmseg).
        wait_time: seconds each shown drawing stays.
        test_out_dir: folder for one PNG per test image, or None for the vis backends.
    """

    priority = 'NORMAL'

    def __init__(self, draw: bool = False, interval: int = 50, show: bool = False, wait_time: float = 0.,
                 test_out_dir: Optional[str] = None) -> None:
        if interval < 1:
            raise ValueError(f'DepthVisualizationHook: interval must be >= 1, got {interval}')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self._test_index = 0
        if not draw:
            warnings.warn('DepthVisualizationHook: draw=False, nothing will be drawn or saved.')

    def before_run(self, runner) -> None:
        if not self.draw:
            return
        visualizer = runner.visualizer
        if not callable(getattr(visualizer, 'draw_depth_sample', None)):
            raise TypeError(f'DepthVisualizationHook needs visualizer=dict(type=\'mmbokeh.DepthLocalVisualizer\', '
                            f'...) in the config, got {type(visualizer).__name__}')
        if self.show:
            visualizer._vis_backends = {}  # showing only: store nothing (mmseg's convention)
            warnings.warn('DepthVisualizationHook: show=True, the vis backends are dropped and nothing is stored.')

    def before_test(self, runner) -> None:
        self._test_index = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict = None, outputs: Sequence = None) -> None:
        if not self.draw or not outputs or not self.every_n_inner_iters(batch_idx, self.interval):
            return
        sample = outputs[0]
        name = f'val_{osp.basename(sample.img_path)}'
        runner.visualizer.add_datasample(name, self._image(data_batch, 0, sample), data_sample=sample,
                                         show=self.show, wait_time=self.wait_time, step=runner.iter,
                                         **self._stack(data_batch, 0, sample))

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None, outputs: Sequence = None) -> None:
        if not self.draw or not outputs:
            return
        out_dir = self.test_out_dir
        if out_dir is not None and not osp.isabs(out_dir):
            out_dir = osp.join(runner.work_dir, out_dir)
        for i, sample in enumerate(outputs):
            self._test_index += 1
            base = osp.basename(sample.img_path.rstrip('/'))
            out_file = None if out_dir is None else osp.join(out_dir, f'{output_stem(sample.img_path)}.png')
            runner.visualizer.add_datasample(f'test_{base}', self._image(data_batch, i, sample), data_sample=sample,
                                             show=self.show, wait_time=self.wait_time, out_file=out_file,
                                             step=self._test_index, **self._stack(data_batch, i, sample))

    @staticmethod
    def _inputs(data_batch: Optional[dict]) -> dict:
        """The un-preprocessed inputs of the batch as a dict of per-sample sequences (``img``, ``stack``, ...)."""
        inputs = None if data_batch is None else data_batch.get('inputs')
        return inputs if isinstance(inputs, dict) else {} if inputs is None else dict(img=inputs)

    def _stack(self, data_batch: Optional[dict], index: int, sample) -> dict:
        """``stack`` [S, 3, H, W], ``stack_values`` and ``stack_label`` of a sample, or nothing: K ('k'), else focus
        distances ('focus', in metres; a unitless ``focus {:.2f}`` when the sample's ``focus_units`` is not 'm', as
        Mobile Depth's normalised focus)."""
        inputs = self._inputs(data_batch)
        if 'stack' not in inputs:
            return {}
        if 'stack_k' in inputs or 'stack_focus' not in inputs:
            label, values = 'k', inputs.get('stack_k')
        else:
            units = sample.metainfo.get('focus_units', 'm') if hasattr(sample, 'metainfo') else 'm'
            label, values = 'focus' if units == 'm' else 'focus {:.2f}', inputs['stack_focus']
        return dict(stack=inputs['stack'][index], stack_values=None if values is None else values[index],
                    stack_label=label)

    def _image(self, data_batch: Optional[dict], index: int, sample) -> np.ndarray:
        """[H, W, 3] uint8 RGB image of the ``index``-th sample of the batch."""
        img_path = sample.img_path
        if not img_path.startswith(SYNTHETIC_PREFIX):
            return mmcv.imread(img_path, channel_order='rgb')
        inputs = self._inputs(data_batch)
        if 'img' not in inputs:
            raise KeyError(f"DepthVisualizationHook: {img_path} is synthetic and data_batch has no inputs['img'] to "
                           'draw it from')
        img = inputs['img'][index]
        if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] != 3:
            raise ValueError(f"DepthVisualizationHook: data_batch['inputs']['img'][{index}] for {img_path} must be a "
                             f'[3, H, W] tensor, got {getattr(img, "shape", type(img))}')
        bgr = img.detach().cpu().permute(1, 2, 0).float().clamp(0, 255).round().to(torch.uint8).numpy()
        return np.ascontiguousarray(bgr[..., ::-1])
