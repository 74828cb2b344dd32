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

    ``view_dropout`` p: in training, each sample's views are fused with probability 1 - p and see only themselves
    (as at single-image inference) with probability p, drawn once per sample and step for all levels (p = 0: always
    fused, DefocusNet's and the paper's form). Without it the heads learn to lean on the other view, which a single
    test image does not have (measured in docs/sdnet.md).

    Args:
        in_channels: channels of each encoder level.
        view_dropout: probability in [0, 1) of training a sample unfused.
        norm_cfg, act_cfg: of the 1x1 fusion convs (mmcv ``ConvModule``).
    """

    def __init__(self, in_channels: Sequence[int], view_dropout: float = 0.0, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not in_channels or any(int(c) <= 0 for c in in_channels):
            raise ValueError(f'ViewMaxPoolFusion: in_channels must be a non-empty list of positive ints, '
                             f'got {in_channels!r}')
        self.in_channels = [int(c) for c in in_channels]
        if not 0.0 <= view_dropout < 1.0:
            raise ValueError(f'ViewMaxPoolFusion: view_dropout must be in [0, 1), got {view_dropout!r}')
        self.view_dropout = float(view_dropout)
        self.fuse = torch.nn.ModuleList(
            ConvModule(2 * c, c, 1, norm_cfg=norm_cfg, act_cfg=act_cfg) for c in self.in_channels)

    def forward(self, feats: Sequence[torch.Tensor], num_views: int) -> List[torch.Tensor]:
        """feats: per level [B*V, C_i, h_i, w_i], views of a sample adjacent (view-minor order) -> same shapes."""
        if len(feats) != len(self.fuse):
            raise ValueError(f'ViewMaxPoolFusion: got {len(feats)} feature levels, built for {len(self.fuse)}')
        out, alone = [], None
        if self.training and self.view_dropout > 0:
            # [B]: the samples that see only themselves this step
            alone = torch.rand(feats[0].shape[0] // num_views, device=feats[0].device) < self.view_dropout
        for feat, fuse, channels in zip(feats, self.fuse, self.in_channels):
            if feat.shape[1] != channels or feat.shape[0] % num_views:
                raise ValueError(f'ViewMaxPoolFusion: level of shape {tuple(feat.shape)} does not fit '
                                 f'{channels} channels and {num_views} views per sample')
            views = feat.unflatten(0, (-1, num_views))
            pooled = views.amax(dim=1, keepdim=True).expand_as(views)
            if alone is not None:
                pooled = torch.where(alone[:, None, None, None, None], views, pooled)
            out.append(fuse(torch.cat([views, pooled], dim=2).flatten(0, 1)))
        return out
