from .base_depth_head import BaseDepthHead
from .dpt_head import DPT_SETTINGS, DPTHead

__all__ = ['BaseDepthHead', 'DPTHead', 'DPT_SETTINGS']
