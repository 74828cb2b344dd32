"""BokehDepthEstimator: encoder -> (defocus aggregation over a bokeh stack) -> DPT decoder."""
from contextlib import nullcontext
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample, stack_gt_depth


@MODELS.register_module()
class BokehDepthEstimator(BaseModel):
    """Monocular depth estimator that optionally fuses a bokeh stack (BokehDepth Stage 2).

    Without a neck, or without a stack, it is plain Depth Anything V2. With a neck (e.g. ``DefocusAggregation``),
    the reference image and its S stack frames go through the same encoder as one batch of B*(S+1); the neck fuses the
    taps along the defocus axis and hands the reference frame's tokens to the unchanged decoder. When the neck fuses
    only shallow taps (``fuse_taps``), the stack frames stop at the deepest fused tap and only the reference runs the
    rest of the encoder.

    Args:
        backbone: config of a tap-exposing ViT (``DINOv2``, ``TimmViT``).
        decode_head: config of ``DPTHead``; ``in_channels`` defaults to the backbone width.
        neck: optional defocus aggregation config.
        loss: depth loss config (default SiLog, lambda 0.5).
        train_cfg: ``min_depth`` / ``max_depth`` (metres) bounds of valid ground truth for the loss.
        test_cfg: ``resize_to_ori`` (default True): predictions are cropped to ``img_shape`` and resized (bilinear,
            align_corners as Depth Anything V2) to the ground truth's ``ori_shape``.
        stack_grad: back-propagate through the encoder passes of the stack frames (False: they run under no_grad,
            as the official ``grad_free_stack``; the reference frame always keeps its gradient).
        frame_chunk: encode at most this many frames per encoder call (bounds memory); None: all B*(S+1) at once.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 stack_grad: bool = True,
                 frame_chunk: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmbokeh.DepthDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        decode_head = dict(decode_head)
        decode_head.setdefault('in_channels', self.backbone.embed_dim)
        decode_head.setdefault('patch_size', self.backbone.patch_size)
        self.decode_head = MODELS.build(decode_head)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.loss_module = MODELS.build(loss if loss is not None else dict(type='mmbokeh.SiLogLoss', lambd=0.5))
        self.train_cfg = {'min_depth': 1e-3, 'max_depth': self.decode_head.max_depth, **(train_cfg or {})}
        self.test_cfg = {'resize_to_ori': True, **(test_cfg or {})}
        self.stack_grad, self.frame_chunk = stack_grad, frame_chunk

    # ------------------------------------------------------------------ tensor API
    def extract_taps(self, image: torch.Tensor, stack: Optional[torch.Tensor] = None,
                     k: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """Encoder taps for the reference image: list of [B, h*w, C]; fused with the stack when a neck is set."""
        if stack is None or self.neck is None:
            return self.backbone(image)
        if stack.dim() != 5 or stack.shape[0] != image.shape[0] or stack.shape[2:] != image.shape[1:]:
            raise ValueError(f'stack must be [B, S, 3, H, W] matching image {tuple(image.shape)}, '
                             f'got {tuple(stack.shape)}')
        if k is None or tuple(k.shape) != tuple(stack.shape[:2]):
            raise ValueError(f'k must be [B, S] = {tuple(stack.shape[:2])}, got '
                             f'{None if k is None else tuple(k.shape)}')
        B, S = stack.shape[:2]
        deep, stack_no_grad = self._stack_taps(), self.training and not self.stack_grad
        if deep is None and not stack_no_grad:  # one batch of B*(S+1) frames
            frames = torch.cat([image[:, None], stack], dim=1).flatten(0, 1)
            taps = [t.unflatten(0, (B, S + 1)) for t in self._encode(frames)]
        else:
            ref = self._encode(image)
            with torch.no_grad() if stack_no_grad else nullcontext():
                rest = self._encode(stack.flatten(0, 1), deep)  # only as deep as the neck reads the stack
            taps = [torch.cat([r[:, None], s.unflatten(0, (B, S))], dim=1) for r, s in zip(ref, rest)]
            taps += [r[:, None] for r in ref[len(rest):]]  # taps the neck passes through: reference only
        k_all = torch.cat([k.new_zeros(B, 1), k], dim=1)
        return self.neck(taps, k_all)

    def _stack_taps(self) -> Optional[int]:
        """How many of the encoder's first taps the neck reads from the stack frames (None: all, or unknown)."""
        fuse_taps = getattr(self.neck, 'fuse_taps', None)
        num_taps = len(getattr(self.backbone, 'out_indices', ()))
        return max(fuse_taps) + 1 if fuse_taps and max(fuse_taps) + 1 < num_taps else None

    def _encode(self, frames: torch.Tensor, num_taps: Optional[int] = None) -> List[torch.Tensor]:
        """The first ``num_taps`` (None: all) encoder taps of frames [M, 3, H, W], ``frame_chunk`` frames per call."""
        chunk = self.frame_chunk or frames.shape[0]
        parts = [self.backbone(f, num_taps) for f in frames.split(chunk)]
        return [torch.cat(p, dim=0) for p in zip(*parts)]

    def forward_depth(self, image: torch.Tensor, stack: Optional[torch.Tensor] = None,
                      k: Optional[torch.Tensor] = None) -> torch.Tensor:
        """image [B, 3, H, W] normalised (H, W multiples of the patch size); stack [B, S, 3, H, W] normalised like
        the image; k [B, S] bokeh strengths. Returns depth [B, H, W] in metres (relative heads: disparity)."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f'image must be [B, 3, H, W], got {tuple(image.shape)}')
        grid = self.backbone.grid_size(image)
        taps = self.extract_taps(image, stack, k)
        return self.decode_head(taps, grid).squeeze(1)

    # ------------------------------------------------------------------ mmengine API
    @staticmethod
    def _stack_inputs(data_samples: Optional[List[DepthDataSample]]):
        if not data_samples or 'bokeh_stack' not in data_samples[0]:
            return None, None
        stack = torch.stack([s.bokeh_stack for s in data_samples])
        k = torch.stack([s.bokeh_k for s in data_samples]).to(stack)
        return stack, k

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DepthDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[DepthDataSample], torch.Tensor]:
        stack, k = self._stack_inputs(data_samples)
        depth = self.forward_depth(inputs, stack, k)
        if mode == 'tensor':
            return depth
        if mode == 'loss':
            return self.loss(depth, data_samples)
        if mode == 'predict':
            return self.postprocess(depth, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got '{mode}'")

    def loss(self, depth: torch.Tensor, data_samples: List[DepthDataSample]) -> Dict[str, torch.Tensor]:
        gt = stack_gt_depth(data_samples).to(depth)
        if gt.shape[-2:] != depth.shape[-2:]:
            raise ValueError(f'training gt_depth {tuple(gt.shape[-2:])} is not aligned with the input '
                             f'{tuple(depth.shape[-2:])}: resize depth with the image in the train pipeline')
        valid = (gt > self.train_cfg['min_depth']) & (gt <= self.train_cfg['max_depth'])
        return {getattr(self.loss_module, 'loss_name', 'loss_depth'): self.loss_module(depth[:, None], gt, valid)}

    def postprocess(self, depth: torch.Tensor, data_samples: Optional[List[DepthDataSample]]) -> List[DepthDataSample]:
        if data_samples is None:
            data_samples = [DepthDataSample(metainfo=dict(img_shape=depth.shape[-2:])) for _ in depth]
        for pred, sample in zip(depth, data_samples):
            h, w = sample.metainfo.get('img_shape', pred.shape[-2:])[:2]
            pred = pred[None, None, :h, :w]
            ori = sample.metainfo.get('ori_shape')
            if self.test_cfg['resize_to_ori'] and ori is not None and tuple(ori[:2]) != (h, w):
                pred = F.interpolate(pred, size=tuple(ori[:2]), mode='bilinear', align_corners=True)
            sample.pred_depth = PixelData(data=pred[0])
        return data_samples
