"""Data transforms of mmbokeh, registered in ``mmbokeh.registry.TRANSFORMS``."""
from .bokeh_stack import OFFICIAL_INFERENCE_K, OFFICIAL_K_RANGE, OFFICIAL_STACK_TOOL_K, BokehStackGenerator
from .focal_stack import RenderFocalStack, camera_dict, focal_stack_coc, render_focal_stack
from .formatting import PackDepthInputs
from .geometric import RandomCrop, RandomFlip, ResizeToMultiple, dav2_output_size, resize_depth_map, snap_to_multiple
from .keys import CAMERA_KEYS, DEFAULT_META_KEYS
from .loading import LoadDepth, LoadFocalStack, LoadImage

__all__ = [
    'BokehStackGenerator', 'OFFICIAL_INFERENCE_K', 'OFFICIAL_K_RANGE', 'OFFICIAL_STACK_TOOL_K', 'LoadImage',
    'LoadDepth', 'LoadFocalStack', 'RenderFocalStack', 'RandomCrop', 'RandomFlip', 'ResizeToMultiple',
    'PackDepthInputs', 'camera_dict', 'focal_stack_coc', 'render_focal_stack', 'dav2_output_size',
    'snap_to_multiple', 'resize_depth_map', 'CAMERA_KEYS', 'DEFAULT_META_KEYS'
]
