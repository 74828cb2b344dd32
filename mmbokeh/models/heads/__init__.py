from .base_depth_head import BaseDepthHead
from .defocus_head import DefocusHead
from .dpt_head import DPT_SETTINGS, DPTHead
from .sdnet_depth_net import DepthNet
from .unidepth_camera import UniDepthCameraHead
from .unidepth_decoder import UniDepthDepthDecoder
from .unidepth_v2_head import UniDepthV2Head

__all__ = ['BaseDepthHead', 'DPTHead', 'DPT_SETTINGS', 'UniDepthCameraHead', 'UniDepthDepthDecoder', 'UniDepthV2Head',
           'DepthNet', 'DefocusHead']
