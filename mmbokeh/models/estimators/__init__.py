from .base import BaseDepthEstimator
from .bokeh_depth_estimator import BokehDepthEstimator
from .unidepth_v2 import UniDepthV2

__all__ = ['BaseDepthEstimator', 'BokehDepthEstimator', 'UniDepthV2']
