from .base import BaseDepthEstimator
from .bokeh_depth_estimator import BokehDepthEstimator

__all__ = ['BaseDepthEstimator', 'BokehDepthEstimator']
