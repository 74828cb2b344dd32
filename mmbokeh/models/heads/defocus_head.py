"""SDNet's defocus head: multi-scale decoder -> defocus map and signed circle-of-confusion map; owns eq. 14."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmbokeh.registry import MODELS


def _build(cfg: Optional[dict]) -> Optional[torch.nn.Module]:
    return None if cfg is None else MODELS.build(cfg)


@MODELS.register_module()
class DefocusHead(BaseModule):
    """Decode multi-scale features of one view into its defocus map and its signed CoC map.

    An FPN-style top-down decoder (1x1 laterals to ``channels``, upsample-and-add from the coarsest level, a 3x3
    conv per level) gives features at the finest level's stride; they are upsampled to the image size and refined by
    a 3x3 conv, then two 1x1 convs predict

    - ``defocus`` [N, 1, H, W] in [0, 1] (sigmoid): the normalised blur of the view, DefocusNet's defocus-map
      convention (|CoC| / ``coc_norm_px``, clipped to 1);
    - ``coc`` [N, 1, H, W] signed CoC radius in pixels (``max_coc_px * tanh``): ``K (1/d - 1/s)``, > 0 in front of
      the focus plane (:func:`mmbokeh.optics.signed_defocus`), so the thin lens gives depth back from it.

    Losses (SDNet eq. 14, ``mu1 L_defocus + mu2 L_blur + mu3 L_recon``; each weight is its loss's ``loss_weight`` /
    ``beta``; any may be None): ``loss_defocus`` between the defocus maps of two views (eq. 5), ``loss_blur`` on the
    rendered images (eq. 6), ``loss_recon`` between rendered and real views (eq. 12), ``loss_smooth`` edge-aware
    smoothness of the defocus maps (eq. 16, "we employ ... a smoothness loss"), and ``loss_coc`` =
    ``coc_sup_weight * mean |coc - coc_gt|`` over valid pixels, an optional supervision by the ground-truth signed
    CoC (the paper's losses do not include it, so it is off, weight 0, by default), and ``loss_defocus_sup`` =
    ``defocus_sup_weight * mean |defocus - min(|c_gt| / coc_norm_px, 1)|``: the defocus map supervised by the
    ground-truth blur, as DefocusNet supervises its defocus maps (the paper trains on FoD500 and NYUv2 "due to the
    lack of ground truth for defocus maps" in MobileDFF, i.e. with such targets; off by default). Without it the
    defocus map is held only by the Siamese loss, which a constant map satisfies.

    Args:
        in_channels: channels of the encoder levels (fine to coarse).
        channels: decoder width.
        max_coc_px: bound of |coc| in pixels.
        coc_norm_px: |CoC| that maps to defocus 1 (None: ``max_coc_px``).
        coc_sup_weight: weight of ``loss_coc`` (0: off).
        defocus_sup_weight: weight of ``loss_defocus_sup`` (0: off).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 64,
                 max_coc_px: float = 16.0,
                 coc_norm_px: Optional[float] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 loss_defocus: Optional[dict] = dict(type='mmbokeh.SiameseDefocusLoss', loss_weight=0.1),
                 loss_blur: Optional[dict] = dict(type='mmbokeh.BlurLoss', beta=0.01),
                 loss_recon: Optional[dict] = dict(type='mmbokeh.ReconstructionLoss', alpha=0.85),
                 loss_smooth: Optional[dict] = dict(type='mmbokeh.EdgeAwareSmoothnessLoss', loss_weight=0.01),
                 coc_sup_weight: float = 0.0,
                 defocus_sup_weight: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not in_channels:
            raise ValueError('DefocusHead: in_channels must list the encoder levels, got an empty list')
        if not max_coc_px > 0:
            raise ValueError(f'DefocusHead: max_coc_px must be > 0 (pixels), got {max_coc_px!r}')
        self.max_coc_px = float(max_coc_px)
        self.coc_norm_px = float(coc_norm_px or max_coc_px)
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.laterals = torch.nn.ModuleList(ConvModule(c, channels, 1, **conv) for c in in_channels)
        self.smooth = torch.nn.ModuleList(ConvModule(channels, channels, 3, padding=1, **conv) for _ in in_channels)
        self.refine = ConvModule(channels, channels, 3, padding=1, **conv)
        self.defocus_out = torch.nn.Conv2d(channels, 1, 1)
        self.coc_out = torch.nn.Conv2d(channels, 1, 1)
        self.loss_defocus, self.loss_blur = _build(loss_defocus), _build(loss_blur)
        self.loss_recon, self.loss_smooth = _build(loss_recon), _build(loss_smooth)
        if not coc_sup_weight >= 0:
            raise ValueError(f'DefocusHead: coc_sup_weight must be >= 0, got {coc_sup_weight!r}')
        self.coc_sup_weight = float(coc_sup_weight)
        if not defocus_sup_weight >= 0:
            raise ValueError(f'DefocusHead: defocus_sup_weight must be >= 0, got {defocus_sup_weight!r}')
        self.defocus_sup_weight = float(defocus_sup_weight)

    @property
    def needs_gt_coc(self) -> bool:
        """Whether :meth:`loss_by_feat` uses the ground-truth CoC (``coc_sup_weight`` or ``defocus_sup_weight``)."""
        return self.coc_sup_weight > 0 or self.defocus_sup_weight > 0

    def forward(self, feats: Sequence[torch.Tensor], out_size: Sequence[int]) -> Dict[str, torch.Tensor]:
        """feats: encoder levels [N, C_i, h_i, w_i], fine to coarse; out_size (H, W) -> dict(defocus, coc)."""
        if len(feats) != len(self.laterals):
            raise ValueError(f'DefocusHead: got {len(feats)} feature levels, built for {len(self.laterals)}')
        x = None
        for feat, lateral, smooth in zip(reversed(feats), reversed(self.laterals), reversed(self.smooth)):
            y = lateral(feat)
            if x is not None:
                y = y + F.interpolate(x, size=y.shape[-2:], mode='bilinear', align_corners=False)
            x = smooth(y)
        x = self.refine(F.interpolate(x, size=tuple(out_size), mode='bilinear', align_corners=False))
        return dict(defocus=torch.sigmoid(self.defocus_out(x)),
                    coc=self.max_coc_px * torch.tanh(self.coc_out(x) / self.max_coc_px))

    def defocus_target(self, coc: torch.Tensor) -> torch.Tensor:
        """Signed CoC (px) -> the defocus-map value it corresponds to, |coc| / coc_norm_px clipped to [0, 1]."""
        return (coc.abs() / self.coc_norm_px).clamp(max=1.0)

    def loss_by_feat(self, outputs: Dict[str, torch.Tensor], views: torch.Tensor,
                     rendered: Optional[torch.Tensor] = None, gt_coc: Optional[torch.Tensor] = None,
                     valid: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Eq. 14 and the smoothness term for a batch of B samples with V views each.

        Args:
            outputs: ``defocus`` and ``coc`` [B, V, 1, H, W].
            views: the real views [B, V, 3, H, W] in [0, 1].
            rendered: the views rendered by the Gaussian branch [B, V, 3, H, W] in [0, 1], or None.
            gt_coc: ground-truth signed CoC [B, V, 1, H, W] px (for ``loss_coc`` and ``loss_defocus_sup``).
            valid: where ``gt_coc`` holds, [B, 1, 1, H, W] bool (None: everywhere).
        """
        losses: Dict[str, torch.Tensor] = {}

        def add(module: torch.nn.Module, value: torch.Tensor) -> None:
            losses[module.loss_name] = losses.get(module.loss_name, 0) + value

        defocus, num_views = outputs['defocus'], views.shape[1]
        if self.loss_defocus is not None and num_views > 1:
            pairs: List[torch.Tensor] = [self.loss_defocus(defocus[:, i], defocus[:, i + 1])
                                         for i in range(num_views - 1)]
            add(self.loss_defocus, torch.stack(pairs).mean())
        if self.loss_smooth is not None:
            add(self.loss_smooth, self.loss_smooth(defocus.flatten(0, 1), views.flatten(0, 1)))
        if rendered is not None:
            if self.loss_recon is not None:
                add(self.loss_recon, self.loss_recon(rendered.flatten(0, 1), views.flatten(0, 1)))
            if self.loss_blur is not None:
                add(self.loss_blur, self.loss_blur(rendered.flatten(0, 1)))
        if gt_coc is not None:
            mask = torch.ones_like(gt_coc, dtype=torch.bool) if valid is None else valid.expand_as(gt_coc)
            supervised = (('loss_coc', self.coc_sup_weight, outputs['coc'], gt_coc),
                          ('loss_defocus_sup', self.defocus_sup_weight, defocus, self.defocus_target(gt_coc)))
            for name, weight, pred, target in supervised:
                if weight > 0:
                    err = (pred.float() - target.float()).abs()[mask]
                    losses[name] = weight * (err.mean() if err.numel() else err.sum())
        return losses
