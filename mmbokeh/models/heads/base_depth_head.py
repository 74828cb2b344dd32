"""Base of dense depth heads: the head owns its losses (mmseg's ``BaseDecodeHead`` split)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample, stack_gt_depth

LossConfig = Union[dict, Sequence[dict]]


class BaseDepthHead(BaseModule):
    """A head that predicts depth [B, 1, H, W] (metres) and computes its losses against ``gt_depth``.

    Args:
        loss_decode: one loss config or a list (their outputs are summed per name; default SiLog, lambda 0.5).
        init_cfg: mmengine init config.

    Subclasses implement ``forward`` and call :meth:`loss_by_feat` on its output.
    """

    def __init__(self, loss_decode: Optional[LossConfig] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if loss_decode is None:
            loss_decode = dict(type='mmbokeh.SiLogLoss', lambd=0.5)
        configs = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        if not configs:
            raise ValueError(f'{type(self).__name__}: loss_decode needs at least one loss config')
        self.loss_decode = torch.nn.ModuleList(MODELS.build(cfg) for cfg in configs)

    def loss_by_feat(self, outputs: Union[torch.Tensor, Dict[str, torch.Tensor]], data_samples: List[DepthDataSample],
                     train_cfg: Dict) -> Dict[str, torch.Tensor]:
        """Losses of the head's outputs against the samples' ``gt_depth`` (aligned with the padded input).

        ``outputs`` is depth [B, 1, H, W] or a dict with ``depth`` and more (confidence, rays, ...); a loss with
        ``takes_outputs = True`` gets the whole dict, the others the depth. Pixels count when
        ``min_depth < gt <= max_depth`` (``train_cfg``, metres).
        """
        pred = outputs['depth'] if isinstance(outputs, dict) else outputs
        gt = stack_gt_depth(data_samples).to(pred)
        if gt.shape[-2:] != pred.shape[-2:]:
            raise ValueError(f'training gt_depth {tuple(gt.shape[-2:])} is not aligned with the input '
                             f'{tuple(pred.shape[-2:])}: resize depth with the image in the train pipeline')
        valid = (gt > train_cfg['min_depth']) & (gt <= train_cfg['max_depth'])
        losses: Dict[str, torch.Tensor] = {}
        for loss in self.loss_decode:
            name = getattr(loss, 'loss_name', 'loss_depth')
            value = loss(outputs if getattr(loss, 'takes_outputs', False) else pred, gt, valid)
            losses[name] = losses[name] + value if name in losses else value
        return losses
