"""DepthLocalVisualizer: image | ground truth | prediction | bokeh stack, for mmengine's visualization hooks."""
import os.path as osp
from typing import Any, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.visualization import Visualizer

from mmbokeh.registry import VISUALIZERS
from mmbokeh.utils.io import atomic_write_bytes

from .colorize import colorize_depth
from .stack_grid import make_stack_grid


def _valid_range(depth: torch.Tensor) -> Optional[Tuple[float, float]]:
    """(min, max) of the finite, positive pixels of a depth map, or None if there is none."""
    d = depth.detach().float()
    d = d[torch.isfinite(d) & (d > 0)]
    return (float(d.min()), float(d.max())) if d.numel() else None


def _fit_height(img: np.ndarray, height: int, interpolation: int) -> np.ndarray:
    """Resize ``img`` [h, w, 3] to ``height`` rows, keeping its aspect ratio."""
    if img.shape[0] == height:
        return img
    width = max(1, round(img.shape[1] * height / img.shape[0]))
    return cv2.resize(img, (width, height), interpolation=interpolation)


@VISUALIZERS.register_module()
class DepthLocalVisualizer(Visualizer):
    """Draws ``image | gt depth | predicted depth | stack grid`` side by side (RGB, as mmengine's Visualizer).

    Every panel is resized to the image's height; gt and prediction share one colour range (the valid gt's, or
    the prediction's when there is no gt), invalid depth is black. Without ``out_file`` the drawing goes to the vis
    backends (e.g. LocalVisBackend writes ``<save_dir>/vis_data/vis_image/<name>_<step>.png``).

    Args:
        name, image, vis_backends, save_dir: as mmengine's ``Visualizer``.
        cmap: depth colormap, 'turbo' or 'spectral_r'.
        stack_channel_order: channel order of the ``stack`` frames passed to the drawing methods ('bgr' like the
            model inputs packed from images loaded by mmcv, or 'rgb').
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 cmap: str = 'turbo',
                 stack_channel_order: str = 'bgr',
                 **kwargs: Any) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir, **kwargs)
        if stack_channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"DepthLocalVisualizer: stack_channel_order must be 'bgr' or 'rgb', "
                             f'got {stack_channel_order!r}')
        colorize_depth(np.ones((1, 1)), cmap=cmap)  # validates cmap now rather than at the first drawing
        self.cmap = cmap
        self.stack_channel_order = stack_channel_order

    def draw_depth_sample(self, image: np.ndarray, data_sample: Any = None, draw_gt: bool = True,
                          draw_pred: bool = True, stack: Optional[torch.Tensor] = None,
                          stack_values: Optional[Sequence[float]] = None) -> np.ndarray:
        """image: [H, W, 3] uint8 RGB; data_sample: DepthDataSample; stack: the sample's input frames [S, 3, H, W]
        (``inputs['stack']``, unnormalised) with their K or focus distance ``stack_values`` [S]. Returns the
        [H, W', 3] uint8 RGB drawing."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'DepthLocalVisualizer: image must be [H, W, 3] RGB, got {image.shape}')
        if image.dtype != np.uint8:
            image = np.clip(np.round(image.astype(np.float64)), 0, 255).astype(np.uint8)
        depths = []
        if data_sample is not None:
            if draw_gt and 'gt_depth' in data_sample:
                depths.append(data_sample.gt_depth.data)
            if draw_pred and 'pred_depth' in data_sample:
                depths.append(data_sample.pred_depth.data)
        ranges = [r for r in map(_valid_range, depths) if r is not None]
        vmin, vmax = ranges[0] if ranges else (None, None)
        height = image.shape[0]
        panels = [image]
        for depth in depths:
            coloured = colorize_depth(depth, vmin=vmin, vmax=vmax, cmap=self.cmap)
            panels.append(_fit_height(coloured, height, cv2.INTER_NEAREST))
        if stack is not None:
            panels.append(_fit_height(self._stack_grid(stack, stack_values), height, cv2.INTER_AREA))
        return np.ascontiguousarray(np.concatenate(panels, axis=1))

    def _stack_grid(self, stack: torch.Tensor, values: Optional[Sequence[float]]) -> np.ndarray:
        frames = stack.detach().float().cpu().permute(0, 2, 3, 1).numpy()  # [S, H, W, 3]
        if self.stack_channel_order == 'bgr':
            frames = frames[..., ::-1]
        if values is None:
            values = [float('nan')] * frames.shape[0]
        return make_stack_grid(frames, [float(v) for v in values])

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Any = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       stack: Optional[torch.Tensor] = None,
                       stack_values: Optional[Sequence[float]] = None) -> None:
        """Draw ``image`` [H, W, 3] uint8 RGB with the depths of ``data_sample`` (and ``stack``, see
        :meth:`draw_depth_sample`).

        The drawing is shown if ``show``, written to ``out_file`` (atomically; format from its extension) if
        given, else sent to the vis backends as ``name`` at ``step``.
        """
        drawn = self.draw_depth_sample(image, data_sample, draw_gt, draw_pred, stack=stack, stack_values=stack_values)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            ext = osp.splitext(out_file)[1] or '.png'
            try:
                ok, buf = cv2.imencode(ext, drawn[..., ::-1])
            except cv2.error:
                ok = False
            if not ok:
                raise ValueError(f'DepthLocalVisualizer: cannot encode an image as {ext!r} for {out_file}')
            atomic_write_bytes(out_file, buf.tobytes())
        else:
            self.add_image(name, drawn, step)
