"""Layer-wise global max pooling across the views of a Siamese encoder (DefocusNet's fusion, SDNet section III-C)."""
from typing import List, Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmbokeh.registry import MODELS


@MODELS.register_module()
class ViewMaxPoolFusion(BaseModule):
    """Fuse each view's local features with the global (max over views) features, at every encoder level.

    DefocusNet (Maximov et al. CVPR 2020, ``AENet``) concatenates each image's features with their maximum over the
    focal stack at every level; SDNet adopts it ("after extracting local features from each patch, we apply a
    maxpooling operation to fuse local and global features", following that layer-wise global pooling). Level i:
    ``out_v = ConvModule1x1(cat(f_v, max_u f_u))`` with ``in_channels[i]`` output channels, so the decoder sees the
    encoder's widths. With one view (single-image inference) the max is the view itself.

    Args:
        in_channels: channels of each encoder level.
        norm_cfg, act_cfg: of the 1x1 fusion convs (mmcv ``ConvModule``).
    """

    def __init__(self, in_channels: Sequence[int], norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not in_channels or any(int(c) <= 0 for c in in_channels):
            raise ValueError(f'ViewMaxPoolFusion: in_channels must be a non-empty list of positive ints, '
                             f'got {in_channels!r}')
        self.in_channels = [int(c) for c in in_channels]
        self.fuse = torch.nn.ModuleList(
            ConvModule(2 * c, c, 1, norm_cfg=norm_cfg, act_cfg=act_cfg) for c in self.in_channels)

    def forward(self, feats: Sequence[torch.Tensor], num_views: int) -> List[torch.Tensor]:
        """feats: per level [B*V, C_i, h_i, w_i], views of a sample adjacent (view-minor order) -> same shapes."""
        if len(feats) != len(self.fuse):
            raise ValueError(f'ViewMaxPoolFusion: got {len(feats)} feature levels, built for {len(self.fuse)}')
        out = []
        for feat, fuse, channels in zip(feats, self.fuse, self.in_channels):
            if feat.shape[1] != channels or feat.shape[0] % num_views:
                raise ValueError(f'ViewMaxPoolFusion: level of shape {tuple(feat.shape)} does not fit '
                                 f'{channels} channels and {num_views} views per sample')
            views = feat.unflatten(0, (-1, num_views))
            pooled = views.amax(dim=1, keepdim=True).expand_as(views)
            out.append(fuse(torch.cat([views, pooled], dim=2).flatten(0, 1)))
        return out
