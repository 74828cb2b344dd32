from .dinov2 import DINOV2_ARCHS, DINOv2
from .timm_vit import TimmViT, resample_pos_embed_like_dinov2

__all__ = ['DINOv2', 'DINOV2_ARCHS', 'TimmViT', 'resample_pos_embed_like_dinov2']
