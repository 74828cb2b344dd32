from .hooks import DepthVisualizationHook, SkippedSamplesHook

__all__ = ['DepthVisualizationHook', 'SkippedSamplesHook']
