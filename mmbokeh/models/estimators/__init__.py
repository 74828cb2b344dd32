from .bokeh_depth_estimator import BokehDepthEstimator

__all__ = ['BokehDepthEstimator']
