from .depth_metric import DepthMetric
from .functional import DEPTH_METRIC_KEYS, NYU_EIGEN_CROP, check_crop, crop_box, depth_eval_mask, depth_metrics

__all__ = ['DepthMetric', 'depth_metrics', 'depth_eval_mask', 'crop_box', 'check_crop', 'DEPTH_METRIC_KEYS',
           'NYU_EIGEN_CROP']
