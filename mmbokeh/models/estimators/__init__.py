from .base import BaseDepthEstimator
from .bokeh_depth_estimator import BokehDepthEstimator
from .sdnet import SDNet
from .unidepth_v2 import UniDepthV2

__all__ = ['SDNet', 'BaseDepthEstimator', 'BokehDepthEstimator', 'UniDepthV2']
