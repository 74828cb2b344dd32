"""DepthMetric: the standard monocular depth metrics for mmengine's evaluator."""
import io
import logging
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from mmbokeh.registry import METRICS
from mmbokeh.utils.io import atomic_write_bytes, output_stem

from .functional import DEPTH_METRIC_KEYS, CropType, check_crop, crop_box, depth_eval_mask, depth_metrics

#: Evaluation protocols of the focal-stack literature: name -> (ground truth kept where lo < gt < hi after clipping
#: it at ``clip`` metres; the prediction is clipped to [min_depth, clip or max_depth]) and where it comes from.
PROTOCOLS = {
    'all': dict(lo=0.0, hi=float('inf'), clip=None,
                description='every pixel with ground truth (gt > 0), as Ehzoahis/DEReD eval_model() on its '
                'clipped depth'),
    'dered_lt0.5m': dict(lo=0.0, hi=0.5, clip=None,
                         description='pixels with gt < 0.5 m, as Ehzoahis/DEReD eval_model(0.5)'),
    'dfv_1.5m': dict(lo=0.0, hi=float('inf'), clip=1.5,
                     description='gt and prediction clipped to 1.5 m, gt = 0 ignored, as fuy34/DFV eval_FoD500.py'),
}


def _depth_map(data_sample: dict, key: str, where: str) -> np.ndarray:
    """``data_sample[key]['data']`` ([1, H, W] or [H, W] tensor or array) as a floating [H, W] array (float32 for
    tensors, the array's own float dtype otherwise)."""
    try:
        data = data_sample[key]['data']
    except (KeyError, TypeError):
        raise KeyError(f"DepthMetric: data sample{where} has no '{key}' with a 'data' field "
                       f"(keys: {sorted(data_sample)})") from None
    if isinstance(data, torch.Tensor):
        data = data.detach().float().cpu().numpy()
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'DepthMetric: {key} must be [1, H, W] or [H, W], got {data.shape}{where}')
    return data


#: Placeholder result of a sample without ground truth (compared by value: results are pickled across ranks).
_NO_GT = dict(no_gt=True)


def _is_no_gt(result: Optional[Dict]) -> bool:
    return isinstance(result, dict) and result.get('no_gt') is True


@METRICS.register_module()
class DepthMetric(BaseMetric):
    """d1 d2 d3 abs_rel sq_rel rmse rmse_log log10 silog, computed per image and averaged over images.

    The ground truth is valid where ``min_depth < gt < max_depth`` (open at both ends, as in BTS, ZoeDepth and
    mmsegmentation: a depth exactly at the cap, e.g. NYUv2's 10 m saturation, is not evaluated), inside the crop.
    Images without a valid pixel are skipped and counted (``num_skipped`` after ``compute_metrics``). A sample
    without ground truth (``gt_depth`` absent) raises KeyError, unless ``allow_missing_gt`` (datasets without ground
    truth, e.g. Mobile Depth): it is then skipped and counted as ``num_without_gt``, and a run where no sample has
    ground truth logs so and returns no metrics (predictions are still saved with ``output_dir``).

    ``protocol`` replaces the (min_depth, max_depth) mask by one of :data:`PROTOCOLS` ('all', 'dered_lt0.5m',
    'dfv_1.5m'); the metric keys then default to the prefix ``<protocol>/`` and every result is logged with the
    protocol and the dataset's ``dataset_name`` and ``layout`` (from its metainfo).

    Args:
        min_depth, max_depth: evaluation range of the ground truth, metres.
        crop: None, 'nyu_eigen' (rows 45:471, cols 41:601 of a 480x640 ground truth) or (top, bottom, left, right)
            as Python slice bounds.
        median_scaling: multiply the prediction by median(gt) / median(pred) over the valid pixels before clipping
            (for relative-depth models).
        clip_pred: clamp the prediction to [min_depth, max_depth] (BTS / ZoeDepth evaluation).
        collect_device: 'cpu' or 'gpu', for gathering results across ranks.
        prefix: prefix of the metric keys (None: the keys are exactly the nine names).
        protocol: None (the min/max mask above) or a name in :data:`PROTOCOLS`.
        allow_missing_gt: skip samples without ``gt_depth`` instead of raising.
        output_dir: if set, each raw prediction (before scaling or clipping) is saved there as a float32 [H, W]
            ``<parent folder>_<image stem>.npy`` in metres, written atomically.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 crop: CropType = None,
                 median_scaling: bool = False,
                 clip_pred: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 output_dir: Optional[str] = None,
                 protocol: Optional[str] = None,
                 allow_missing_gt: bool = False) -> None:
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f'DepthMetric: protocol must be None or one of {sorted(PROTOCOLS)}, got {protocol!r}')
        super().__init__(collect_device=collect_device, prefix=prefix if prefix or not protocol else protocol)
        if not 0 < min_depth < max_depth:
            raise ValueError(f'DepthMetric: need 0 < min_depth < max_depth (a NaN, infinite or non-positive '
                             'prediction is scored as min_depth, whose log must be finite), got '
                             f'min_depth={min_depth}, max_depth={max_depth}')
        self.protocol = protocol
        self.allow_missing_gt = allow_missing_gt
        check_crop(crop)
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.crop = crop
        self.median_scaling = median_scaling
        self.clip_pred = clip_pred
        self.output_dir = output_dir
        self.num_skipped = 0
        self.num_without_gt = 0
        self._saved_names: set = set()

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute the metrics of each image; data samples are dicts (or DepthDataSample) with
        ``pred_depth['data']`` and ``gt_depth['data']`` of the same [1, H, W] shape, metres."""
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            img_path = sample.get('img_path')
            where = f' (img_path={img_path})' if img_path else ''
            pred = _depth_map(sample, 'pred_depth', where)
            if self.allow_missing_gt and 'gt_depth' not in sample:
                if self.output_dir is not None:
                    self._save_prediction(pred, img_path, len(self.results))
                self.results.append(_NO_GT)
                continue
            gt = _depth_map(sample, 'gt_depth', where)
            if pred.shape != gt.shape:
                raise ValueError(f'DepthMetric: pred_depth shape {pred.shape} != gt_depth shape {gt.shape}{where}; '
                                 'predictions must be resized to the ground truth before evaluation')
            if self.output_dir is not None:
                self._save_prediction(pred, img_path, len(self.results))
            self.results.append(self._image_metrics(pred, gt, where))

    def _image_metrics(self, pred: np.ndarray, gt: np.ndarray, where: str) -> Optional[Dict[str, float]]:
        lo, hi, pred_max = self.min_depth, self.max_depth, self.max_depth
        if self.protocol is not None:
            spec = PROTOCOLS[self.protocol]
            lo, hi = spec['lo'], spec['hi']
            if spec['clip'] is not None:
                gt = np.minimum(gt, np.asarray(spec['clip'], gt.dtype))
                pred_max = spec['clip']
        mask = depth_eval_mask(gt, lo, hi, crop_box(self.crop, gt.shape, where))
        if not mask.any():
            return None
        pred, gt = pred[mask].astype(np.float64), gt[mask].astype(np.float64)
        if self.median_scaling:
            pred_median = np.median(pred)
            if not pred_median > 0:
                raise ValueError(f'DepthMetric: median_scaling needs a positive median prediction on the valid '
                                 f'pixels, got {pred_median}{where}')
            pred = pred * (np.median(gt) / pred_median)
        # A NaN, infinite or non-positive prediction is a wrong answer, not a missing one: it is scored as the
        # nearest valid depth (min_depth) so one bad pixel neither poisons the whole evaluation nor goes unseen.
        bad = ~np.isfinite(pred) | (pred <= 0)
        if bad.any():
            pred = np.where(bad, self.min_depth, pred)
        if self.clip_pred:
            pred = np.clip(pred, self.min_depth, pred_max)
        return dict(depth_metrics(pred, gt), invalid_pred_pixels=int(bad.sum()))

    def _save_prediction(self, pred: np.ndarray, img_path: Optional[str], index: int) -> None:
        name = output_stem(img_path) if img_path else f'pred_{index:06d}'
        if name in self._saved_names:
            warnings.warn(f'DepthMetric: {name}.npy was already written in this run and is overwritten '
                          f'(img_path={img_path})')
        self._saved_names.add(name)
        buf = io.BytesIO()
        np.save(buf, pred.astype(np.float32))
        atomic_write_bytes(osp.join(self.output_dir, f'{name}.npy'), buf.getvalue())

    def compute_metrics(self, results: List[Optional[Dict[str, float]]]) -> Dict[str, float]:
        """Average the per-image metrics over the images that had a valid pixel, and log them as a table."""
        logger: MMLogger = MMLogger.get_current_instance()
        self.num_without_gt = sum(_is_no_gt(r) for r in results)
        results = [r for r in results if not _is_no_gt(r)]
        kept = [r for r in results if r is not None]
        self.num_skipped = len(results) - len(kept)
        about = self._about()
        if self.num_without_gt:
            print_log(f'DepthMetric{about}: {self.num_without_gt} of {self.num_without_gt + len(results)} samples '
                      'have no ground truth and were skipped', logger=logger, level=logging.WARNING)
        if not results:
            print_log(f'DepthMetric{about}: no sample has ground truth; no metrics', logger=logger,
                      level=logging.WARNING)
            return {}
        if not kept:
            raise ValueError(f'DepthMetric: none of the {len(results)} images has a ground-truth pixel in '
                             f'({self.min_depth}, {self.max_depth}) m inside crop={self.crop!r}; check the depth '
                             'units (metres) and min_depth / max_depth')
        metrics = {k: float(np.mean([r[k] for r in kept])) for k in DEPTH_METRIC_KEYS}
        if self.num_skipped:
            print_log(f'DepthMetric: {self.num_skipped} of {len(results)} images had no valid ground-truth '
                      'pixel and were skipped', logger=logger, level=logging.WARNING)
        invalid = sum(r.get('invalid_pred_pixels', 0) for r in kept)
        if invalid:
            images = sum(bool(r.get('invalid_pred_pixels', 0)) for r in kept)
            print_log(f'DepthMetric: {invalid} evaluated pixels in {images} images had a NaN, infinite or '
                      f'non-positive prediction; they were scored as {self.min_depth} m', logger=logger,
                      level=logging.WARNING)
        print_log(f'DepthMetric{about} over {len(kept)} images:\n' + self._table(metrics), logger=logger)
        return metrics

    def _about(self) -> str:
        """' (protocol ..., dataset ..., layout ...)' for log lines; empty without a protocol or dataset name."""
        meta = self.dataset_meta or {}
        parts = []
        if self.protocol is not None:
            parts.append(f'protocol={self.protocol!r}: {PROTOCOLS[self.protocol]["description"]}')
        if meta.get('dataset_name'):
            parts.append(f'dataset={meta["dataset_name"]!r}')
        if meta.get('layout'):
            parts.append(f'layout={meta["layout"]!r}')
        return f' ({"; ".join(parts)})' if parts else ''

    @staticmethod
    def _table(metrics: Dict[str, float]) -> str:
        cells = [(k, f'{metrics[k]:.4f}') for k in DEPTH_METRIC_KEYS]
        widths = [max(len(k), len(v)) for k, v in cells]
        header = ' | '.join(k.rjust(w) for (k, _), w in zip(cells, widths))
        values = ' | '.join(v.rjust(w) for (_, v), w in zip(cells, widths))
        return f'{header}\n{"-" * len(header)}\n{values}'
