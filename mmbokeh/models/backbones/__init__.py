from .dinov2 import DINOV2_ARCHS, DINOv2
from .mpvit import MPVIT_ARCHS, MPViT
from .timm_features import TimmFeatures
from .timm_vit import TimmViT, resample_pos_embed_like_dinov2
from .unidepth_dinov2 import UNIDEPTH_TAPS, UniDepthDINOv2

__all__ = ['DINOv2', 'DINOV2_ARCHS', 'TimmViT', 'resample_pos_embed_like_dinov2', 'UniDepthDINOv2', 'UNIDEPTH_TAPS',
           'MPViT', 'MPVIT_ARCHS', 'TimmFeatures']
