from .attention import MultiHeadSelfAttention
from .cross_attention_block import CrossAttentionBlock
from .dense_aspp import DenseASPP
from .divided_space_focus_block import DividedSpaceFocusBlock
from .prenorm_mlp import PreNormMLP
from .ray_embedding import RayEmbedding, rays_from_intrinsics, rays_from_params, sine_fourier_features
from .res_upsample import LeakyResidualConvUnit, ResUpsampleBilinear

__all__ = ['MultiHeadSelfAttention', 'DividedSpaceFocusBlock', 'CrossAttentionBlock', 'PreNormMLP', 'RayEmbedding',
           'rays_from_intrinsics', 'rays_from_params', 'sine_fourier_features', 'LeakyResidualConvUnit',
           'ResUpsampleBilinear', 'DenseASPP']
