"""DepthLocalVisualizer: labelled image | ground truth | prediction | error (| defocus) panels with colour bars in
metres, and the bokeh or focal stack below, for mmengine's visualization hooks (``tools/test.py --show-dir``)."""
import math
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.visualization import Visualizer

from mmbokeh.registry import VISUALIZERS
from mmbokeh.utils.io import atomic_write_bytes

from .colorize import colorize_depth, colorize_values

Box = Tuple[int, int, int, int]  # x, y, width, height

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Canvas background, label-strip background and text colour (RGB).
BACKGROUND = (255, 255, 255)
LABEL_BACKGROUND = (232, 232, 232)
TEXT = (0, 0, 0)
#: Frame label templates: bokeh strength K (pixels x metres) or focus distance (metres).
STACK_LABELS = {'k': 'K={:g}', 'focus': 'focus {:.2f} m'}


def _font(panel_h: int) -> Tuple[float, int, int, int, int]:
    """(font scale, thickness, padding, text height, baseline) of the labels for panels ``panel_h`` rows high."""
    scale = max(0.5, panel_h / 400.0)
    thickness = max(1, round(scale * 1.5))
    pad = max(2, round(4 * scale))
    (_, text_h), base = cv2.getTextSize('Ag', FONT, scale, thickness)
    return scale, thickness, pad, text_h, base


def depth_sample_layout(image_hw: Tuple[int, int], gt: bool = True, pred: bool = True, error: bool = True,
                        defocus: bool = False, num_frames: int = 0, min_panel_height: int = 192,
                        max_panel_height: Optional[int] = None) -> Dict[str, Any]:
    """Where :class:`DepthLocalVisualizer` puts everything (see its docstring for the picture).

    Args:
        image_hw: (H, W) of the input image.
        gt, pred, error, defocus: whether the ground-truth, prediction, abs_rel error and defocus panels (each with
            the colour bar that follows it) are drawn; ``error`` needs ``gt`` and ``pred``.
        num_frames: frames of the stack row (0: no second row).
        min_panel_height, max_panel_height: bounds of the panel height P (the image height clipped into them).

    Returns:
        dict with ``panel_h`` P, ``panel_w`` (the image width scaled to P), ``label_h`` (strip above each panel),
        ``gap``, ``bar_w`` (gradient strip), ``tick_w`` (tick marks and labels right of it), ``font`` (scale,
        thickness, padding, text height, baseline), ``size`` (canvas height, width), ``bars`` (names of the colour
        bars) and ``boxes``: name -> (x, y, width, height) of ``image``, ``gt``, ``pred``, ``depth_bar``, ``error``,
        ``error_bar``, ``defocus``, ``defocus_bar``, ``frame_<i>`` (those drawn), each with ``<name>_label``, the
        strip above it; a bar's box is its gradient strip, ``<name>_ticks`` the area of its tick labels.
    """
    h, w = (int(v) for v in image_hw)
    if h < 1 or w < 1:
        raise ValueError(f'depth_sample_layout: image size must be positive, got {image_hw}')
    if min_panel_height < 1 or (max_panel_height is not None and max_panel_height < min_panel_height):
        raise ValueError(f'depth_sample_layout: need 1 <= min_panel_height <= max_panel_height, got '
                         f'{min_panel_height}, {max_panel_height}')
    if error and not (gt and pred):
        raise ValueError('depth_sample_layout: the error panel needs gt and pred')
    p = max(h, min_panel_height)
    if max_panel_height is not None:
        p = min(p, max_panel_height)
    pw = max(1, round(w * p / h))
    font = _font(p)
    scale, thickness, pad, text_h, base = font
    label_h = text_h + base + 2 * pad
    gap = max(4, p // 32)
    bar_w = max(12, p // 12)
    tick_len = max(3, bar_w // 4)
    tick_w = tick_len + 2 * pad + cv2.getTextSize('00.000 m', FONT, scale, thickness)[0][0]
    boxes: Dict[str, Box] = {}
    bars: List[str] = []
    x = 0

    def panel(name: str, x: int, y: int) -> int:
        boxes[f'{name}_label'] = (x, y, pw, label_h)
        boxes[name] = (x, y + label_h, pw, p)
        return x + pw + gap

    def bar(name: str, x: int) -> int:
        boxes[f'{name}_label'] = (x, 0, bar_w + tick_w, label_h)
        boxes[name] = (x, label_h, bar_w, p)
        boxes[f'{name}_ticks'] = (x + bar_w, label_h, tick_w, p)
        bars.append(name)
        return x + bar_w + tick_w + gap

    x = panel('image', x, 0)
    if gt:
        x = panel('gt', x, 0)
    if pred:
        x = panel('pred', x, 0)
    if gt or pred:
        x = bar('depth_bar', x)
    if error:
        x = bar('error_bar', panel('error', x, 0))
    if defocus:
        x = bar('defocus_bar', panel('defocus', x, 0))
    width, height = x - gap, label_h + p
    if num_frames:
        x = 0
        for i in range(num_frames):
            x = panel(f'frame_{i}', x, height + gap)
        width, height = max(width, x - gap), 2 * height + gap
    return dict(panel_h=p, panel_w=pw, label_h=label_h, gap=gap, bar_w=bar_w, tick_w=tick_w, tick_len=tick_len,
                font=font, size=(height, width), bars=bars, boxes=boxes)


def _valid(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth) & (depth > 0)


def _as_map(data: Any) -> np.ndarray:
    """[H, W] float64 array of a [1, H, W] / [H, W] tensor or array."""
    if isinstance(data, torch.Tensor):
        data = data.detach().float().cpu().numpy()
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'DepthLocalVisualizer: maps must be [1, H, W] or [H, W], got {data.shape}')
    return data


def _metres_ticks(lo: float, hi: float) -> List[str]:
    """Tick labels (top, middle, bottom) of a depth bar over [lo, hi] m: 2 decimals below 10 m, 1 below 100 m, 0
    above, more (up to 3) when the range is too narrow for the ticks to differ."""
    top = max(abs(lo), abs(hi))
    decimals = 2 if top < 10 else 1 if top < 100 else 0
    if hi > lo:
        decimals = max(decimals, min(3, math.ceil(-math.log10(hi - lo)) + 1))
    return [f'{v:.{decimals}f} m' for v in (hi, (lo + hi) / 2, lo)]


@VISUALIZERS.register_module()
class DepthLocalVisualizer(Visualizer):
    """Draws a sample as labelled panels with colour bars (RGB, as mmengine's Visualizer)::

        | image | ground truth | prediction | depth bar | abs_rel error | error bar | defocus | defocus bar |
        | frame 0 (K=3 / focus 0.50 m) | frame 1 | ... |                      <- only with a bokeh / focal stack

    Row 1, left to right: the input image, the ground-truth depth, the predicted depth, one colour bar in metres
    shared by both, the per-pixel abs_rel error ``|pred - gt| / gt`` with its own bar, and the predicted defocus map
    (``pred_defocus``, SDNet: 0 in focus .. 1) with its bar [0, 1]. A panel is left out when its data is missing (gt,
    pred, defocus; the error needs gt and pred; the depth bar gt or pred). Row 2: the stack frames, each labelled with
    its K (``K=10``) or focus distance (``focus 0.30 m``). Every panel and frame carries its label in a grey strip
    above it; the gaps between them are white.

    Sizes (:func:`depth_sample_layout` computes every box): panels are P = clip(image height, ``min_panel_height``,
    ``max_panel_height``) rows high and the image's width scaled alike; small images are thus enlarged (nearest
    neighbour for the maps, so each map pixel keeps its exact colour; linear, or area when shrinking, for the image
    and the frames) before the labels are drawn, so text stays readable. The label font grows with P (scale
    max(0.5, P / 400)); the strip above panels is as high as that text plus padding; gaps are max(4, P // 32) px; a
    bar is a vertical gradient max(12, P // 12) px wide (top: the largest value, bottom: the smallest) with ticks and
    labels at the top, middle and bottom row (depth in metres with enough decimals for the three to differ, up to 3).

    Colours: depth with ``cmap`` over the valid ground truth's [min, max] (the prediction's when there is no ground
    truth; values outside are clipped), invalid depth (<= 0, not finite) black; the error with ``error_cmap`` over
    [0, ``error_max``] (a fixed 0.5 by default so pictures compare; None: the 95th percentile of the sample's
    errors), on pixels where both depths are valid (others black), its top tick reads e.g. ``0.50+`` as larger errors
    take the top colour; the error panel's label gives the mean abs_rel over those pixels (DepthMetric's own mask and
    crop may differ). The prediction is resized (nearest) to the ground truth's size for the error.

    Without ``out_file`` the drawing goes to the vis backends (e.g. LocalVisBackend writes
    ``<save_dir>/vis_data/vis_image/<name>_<step>.png``); an ``out_file`` is written atomically.

    Args:
        name, image, vis_backends, save_dir: as mmengine's ``Visualizer``.
        cmap: depth colormap, 'turbo' or 'spectral_r'.
        stack_channel_order: channel order of the ``stack`` frames passed to the drawing methods ('bgr' like the
            model inputs packed from images loaded by mmcv, or 'rgb').
        min_panel_height: smallest panel height P in pixels (smaller images are enlarged to it).
        max_panel_height: largest panel height (larger images are shrunk), or None.
        error_max: abs_rel at the top of the error bar, or None for the 95th percentile of each sample's errors.
        error_cmap, defocus_cmap: colormaps of the error and defocus panels (they start away from black).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 cmap: str = 'turbo',
                 stack_channel_order: str = 'bgr',
                 min_panel_height: int = 192,
                 max_panel_height: Optional[int] = 1080,
                 error_max: Optional[float] = 0.5,
                 error_cmap: str = 'viridis',
                 defocus_cmap: str = 'plasma',
                 **kwargs: Any) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir, **kwargs)
        if stack_channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"DepthLocalVisualizer: stack_channel_order must be 'bgr' or 'rgb', "
                             f'got {stack_channel_order!r}')
        if error_max is not None and not error_max > 0:
            raise ValueError(f'DepthLocalVisualizer: error_max must be > 0 or None, got {error_max}')
        for c in (cmap, error_cmap, defocus_cmap):
            colorize_depth(np.ones((1, 1)), cmap=c)  # validates the colormaps now rather than at the first drawing
        depth_sample_layout((1, 1), min_panel_height=min_panel_height, max_panel_height=max_panel_height)
        self.cmap = cmap
        self.stack_channel_order = stack_channel_order
        self.min_panel_height = min_panel_height
        self.max_panel_height = max_panel_height
        self.error_max = error_max
        self.error_cmap = error_cmap
        self.defocus_cmap = defocus_cmap
        self.last_layout: Optional[Dict[str, Any]] = None

    def draw_depth_sample(self, image: np.ndarray, data_sample: Any = None, draw_gt: bool = True,
                          draw_pred: bool = True, stack: Optional[torch.Tensor] = None,
                          stack_values: Optional[Sequence[float]] = None, stack_label: str = 'k') -> np.ndarray:
        """Draw one sample (layout in the class docstring); its boxes are left in ``self.last_layout``.

        Args:
            image: [H, W, 3] uint8 RGB.
            data_sample: DepthDataSample with any of ``gt_depth``, ``pred_depth``, ``pred_defocus``.
            draw_gt, draw_pred: draw the ground truth / the predictions (the error needs both).
            stack: the sample's input frames [S, 3, h, w] (``inputs['stack']``, unnormalised, ``stack_channel_order``).
            stack_values: [S] K or focus distance of each frame (None: frames are labelled by index).
            stack_label: 'k' (``K=10``), 'focus' (``focus 0.30 m``) or a ``str.format`` template of one value.

        Returns:
            [height, width, 3] uint8 RGB drawing.
        """
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'DepthLocalVisualizer: image must be [H, W, 3] RGB, got {image.shape}')
        if image.dtype != np.uint8:
            image = np.clip(np.round(image.astype(np.float64)), 0, 255).astype(np.uint8)
        template = STACK_LABELS.get(stack_label, stack_label)
        if '{' not in template:
            raise ValueError(f"DepthLocalVisualizer: stack_label must be 'k', 'focus' or a format template, "
                             f'got {stack_label!r}')
        fields = {}
        for key, wanted in (('gt_depth', draw_gt), ('pred_depth', draw_pred), ('pred_defocus', draw_pred)):
            if wanted and data_sample is not None and key in data_sample:
                fields[key] = _as_map(data_sample.get(key).data)
        gt, pred, defocus = (fields.get(k) for k in ('gt_depth', 'pred_depth', 'pred_defocus'))
        frames = self._frames(stack) if stack is not None else None
        num_frames = 0 if frames is None else len(frames)
        if stack_values is not None:
            if isinstance(stack_values, torch.Tensor):
                stack_values = stack_values.detach().cpu().reshape(-1).tolist()
            stack_values = [float(v) for v in stack_values]
            if len(stack_values) != num_frames:
                raise ValueError(f'DepthLocalVisualizer: {len(stack_values)} stack_values for {num_frames} frames')
        lay = depth_sample_layout(image.shape[:2], gt is not None, pred is not None, gt is not None
                                  and pred is not None, defocus is not None, num_frames, self.min_panel_height,
                                  self.max_panel_height)
        self.last_layout = lay
        boxes, p = lay['boxes'], lay['panel_h']
        canvas = np.empty(lay['size'] + (3, ), np.uint8)
        canvas[:] = BACKGROUND

        def put(name: str, img: np.ndarray, interpolation: int) -> None:
            x, y, w, h = boxes[name]
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=interpolation)
            canvas[y:y + h, x:x + w] = img

        photo_interp = cv2.INTER_LINEAR if p >= image.shape[0] else cv2.INTER_AREA
        put('image', image, photo_interp)
        self._label(canvas, lay, 'image_label', 'image')
        rng = None
        for depth in (gt, pred):
            if depth is not None and rng is None and _valid(depth).any():
                rng = (float(depth[_valid(depth)].min()), float(depth[_valid(depth)].max()))
        for name, title, depth in (('gt', 'ground truth', gt), ('pred', 'prediction', pred)):
            if depth is not None:
                put(name, colorize_depth(depth, *(rng or (None, None)), cmap=self.cmap), cv2.INTER_NEAREST)
                self._label(canvas, lay, f'{name}_label', title)
        if 'depth_bar' in boxes:
            lo, hi = rng if rng is not None else (0.0, 0.0)
            ramp = np.linspace(hi, lo, p)[:, None]
            self._bar(canvas, lay, 'depth_bar', colorize_depth(np.maximum(ramp, 1e-12), lo, hi, cmap=self.cmap),
                      'depth', _metres_ticks(lo, hi) if rng is not None else ['-'] * 3)
        if 'error' in boxes:
            if pred.shape != gt.shape:
                pred = cv2.resize(pred.astype(np.float32), gt.shape[::-1], interpolation=cv2.INTER_NEAREST)
            valid = _valid(gt) & _valid(pred)
            err = np.zeros_like(gt)
            err[valid] = np.abs(pred[valid] - gt[valid]) / gt[valid]
            top = self.error_max
            if top is None:
                top = max(float(np.percentile(err[valid], 95)), 1e-6) if valid.any() else 1.0
            put('error', colorize_values(err, 0.0, top, self.error_cmap, valid=valid), cv2.INTER_NEAREST)
            mean = f'{err[valid].mean():.3f}' if valid.any() else '-'
            self._label(canvas, lay, 'error_label', f'abs_rel {mean}')
            ramp = np.linspace(top, 0.0, p)[:, None]
            self._bar(canvas, lay, 'error_bar', colorize_values(ramp, 0.0, top, self.error_cmap), 'abs_rel',
                      [f'{top:.2f}+', f'{top / 2:.2f}', '0.00'])
        if defocus is not None:
            put('defocus', colorize_values(defocus, 0.0, 1.0, self.defocus_cmap), cv2.INTER_NEAREST)
            self._label(canvas, lay, 'defocus_label', 'defocus')
            ramp = np.linspace(1.0, 0.0, p)[:, None]
            self._bar(canvas, lay, 'defocus_bar', colorize_values(ramp, 0.0, 1.0, self.defocus_cmap), 'defocus',
                      ['1.00', '0.50', '0.00'])
        for i in range(num_frames):
            frame = frames[i]
            put(f'frame_{i}', frame, cv2.INTER_LINEAR if p >= frame.shape[0] else cv2.INTER_AREA)
            text = f'frame {i}' if stack_values is None else template.format(stack_values[i])
            self._label(canvas, lay, f'frame_{i}_label', text)
        return np.ascontiguousarray(canvas)

    @staticmethod
    def _text(canvas: np.ndarray, lay: dict, box: Box, text: str, baseline_y: int, x_off: int) -> None:
        """Draw ``text`` inside ``box`` (clipped to it) with its baseline at row ``baseline_y`` of the canvas."""
        scale, thickness = lay['font'][:2]
        x, y, w, h = box
        sub = np.ascontiguousarray(canvas[y:y + h, x:x + w])
        cv2.putText(sub, text, (x_off, baseline_y - y), FONT, scale, TEXT, thickness, cv2.LINE_AA)
        canvas[y:y + h, x:x + w] = sub

    def _label(self, canvas: np.ndarray, lay: dict, name: str, text: str) -> None:
        """Fill the strip ``name`` with the label background and write ``text`` in it, left aligned."""
        x, y, w, h = lay['boxes'][name]
        canvas[y:y + h, x:x + w] = LABEL_BACKGROUND
        pad, text_h = lay['font'][2:4]
        self._text(canvas, lay, (x, y, w, h), text, y + pad + text_h, pad)

    def _bar(self, canvas: np.ndarray, lay: dict, name: str, ramp: np.ndarray, title: str,
             ticks: Sequence[str]) -> None:
        """Colour bar ``name``: the [P, 1, 3] ``ramp`` (top row: largest value) stretched over the gradient strip,
        tick marks and the labels ``ticks`` (top, middle, bottom) right of it, ``title`` in the strip above."""
        x, y, w, h = lay['boxes'][name]
        canvas[y:y + h, x:x + w] = ramp
        pad, text_h = lay['font'][2:4]
        tick_box = lay['boxes'][f'{name}_ticks']
        rows = (y, y + (h - 1) // 2, y + h - 1)
        baselines = (y + text_h, rows[1] + text_h // 2, y + h - 1)
        for row, base, text in zip(rows, baselines, ticks):
            canvas[row, tick_box[0]:tick_box[0] + lay['tick_len']] = TEXT
            self._text(canvas, lay, tick_box, text, base, lay['tick_len'] + pad)
        self._label(canvas, lay, f'{name}_label', title)

    def _frames(self, stack: Any) -> List[np.ndarray]:
        """[S, 3, h, w] frames -> list of [h, w, 3] uint8 RGB."""
        if not isinstance(stack, torch.Tensor):
            stack = torch.as_tensor(np.asarray(stack))
        if stack.dim() != 4 or stack.shape[1] != 3:
            raise ValueError(f'DepthLocalVisualizer: stack must be [S, 3, H, W], got {tuple(stack.shape)}')
        frames = stack.detach().float().cpu().permute(0, 2, 3, 1).clamp(0, 255).round().to(torch.uint8).numpy()
        if self.stack_channel_order == 'bgr':
            frames = frames[..., ::-1]
        return [np.ascontiguousarray(f) for f in frames]

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
                       stack_values: Optional[Sequence[float]] = None,
                       stack_label: str = 'k') -> None:
        """Draw ``image`` [H, W, 3] uint8 RGB with the depths of ``data_sample`` (and ``stack``, see
        :meth:`draw_depth_sample`).

        The drawing is shown if ``show``, written to ``out_file`` (atomically; format from its extension) if
        given, else sent to the vis backends as ``name`` at ``step``.
        """
        drawn = self.draw_depth_sample(image, data_sample, draw_gt, draw_pred, stack=stack, stack_values=stack_values,
                                       stack_label=stack_label)
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

