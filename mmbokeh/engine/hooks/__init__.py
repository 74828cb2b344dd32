from .depth_visualization_hook import DepthVisualizationHook
from .export_adapter_hook import ExportAdapterHook

__all__ = ['DepthVisualizationHook', 'ExportAdapterHook']
