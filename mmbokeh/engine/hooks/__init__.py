from .depth_visualization_hook import DepthVisualizationHook
from .export_adapter_hook import ExportAdapterHook
from .skipped_samples_hook import SkippedSamplesHook, fault_tolerant_datasets

__all__ = ['DepthVisualizationHook', 'ExportAdapterHook', 'SkippedSamplesHook', 'fault_tolerant_datasets']
