"""BokehDepthEstimator: encoder -> (defocus aggregation over a bokeh stack) -> DPT decoder."""
import inspect
from contextlib import nullcontext
from typing import Dict, List, Optional

import torch

from mmbokeh.models.utils import TapBackbone, build_stack_neck, check_part
from mmbokeh.registry import MODELS
from mmbokeh.structures import as_depth_inputs

from .base import BaseDepthEstimator, InputsType, SampleList


@MODELS.register_module()
class BokehDepthEstimator(BaseDepthEstimator):
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
        train_cfg: ``min_depth`` / ``max_depth`` (metres) bounds of valid ground truth for the head's losses
            (``decode_head.loss_decode``, default SiLog with lambda 0.5).
        test_cfg: see :class:`BaseDepthEstimator`.
        stack_grad: back-propagate through the encoder passes of the stack frames (False: they run under no_grad,
            as the official ``grad_free_stack``; the reference frame always keeps its gradient).
        frame_chunk: encode at most this many frames per encoder call (bounds memory); None: all B*(S+1) at once.
        cp_frames: which frames' encoder passes use the backbone's activation checkpointing (``with_cp``) while
            training: 'all' (default) or 'stack' (the reference frame keeps its activations and only the S stack
            frames recompute theirs: the reference and the stack then run as two encoder calls). See
            ``docs/performance.md`` for what each policy costs.
    """

    CP_FRAMES = ('all', 'stack')

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 stack_grad: bool = True,
                 frame_chunk: Optional[int] = None,
                 cp_frames: str = 'all',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, test_cfg=test_cfg, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        check_part(self.backbone, TapBackbone, 'backbone')
        decode_head = dict(decode_head)
        decode_head.setdefault('in_channels', self.backbone.embed_dim)
        decode_head.setdefault('patch_size', self.backbone.patch_size)
        self.decode_head = MODELS.build(decode_head)
        self.neck = build_stack_neck(neck, self.backbone, MODELS)
        self.train_cfg = {'min_depth': 1e-3, 'max_depth': self.decode_head.max_depth, **(train_cfg or {})}
        self.stack_grad, self.frame_chunk = stack_grad, frame_chunk
        if cp_frames not in self.CP_FRAMES:
            raise ValueError(f'cp_frames must be one of {self.CP_FRAMES}, got {cp_frames!r}')
        if cp_frames == 'stack' and 'with_cp' not in inspect.signature(self.backbone.forward).parameters:
            raise ValueError(f"cp_frames='stack' needs a backbone whose forward takes with_cp "
                             f'(e.g. TimmViT / DINOv2), got {type(self.backbone).__name__}')
        self.cp_frames = cp_frames

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs: InputsType) -> List[torch.Tensor]:
        """Encoder taps of the reference image, list of [B, h*w, C]; fused with ``stack`` / ``stack_k`` by the
        neck when both the neck and a stack are there."""
        return self._taps(as_depth_inputs(inputs))

    def _taps(self, inputs: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        """:meth:`extract_feat` of inputs already checked by ``as_depth_inputs``."""
        image, stack = inputs['img'], inputs.get('stack')
        if stack is None or self.neck is None:
            return self.backbone(image)
        if 'stack_k' not in inputs:
            raise KeyError("BokehDepthEstimator fuses bokeh stacks: inputs['stack'] needs 'stack_k' [B, S]")
        k = inputs['stack_k']
        B, S = stack.shape[:2]
        num_taps = self.backbone.num_taps
        deep = self.neck.stack_taps(num_taps)
        stack_no_grad = self.training and not self.stack_grad
        ref_plain = self.training and self.cp_frames == 'stack'  # the reference frame is not checkpointed
        if deep == num_taps and not stack_no_grad and not ref_plain:  # one batch of B*(S+1) frames
            frames = torch.cat([image[:, None], stack], dim=1).flatten(0, 1)
            taps = [t.unflatten(0, (B, S + 1)) for t in self._encode(frames)]
        else:
            ref = self._encode(image, with_cp=False) if ref_plain else self._encode(image)
            with torch.no_grad() if stack_no_grad else nullcontext():
                rest = self._encode(stack.flatten(0, 1), deep)  # only as deep as the neck reads the stack
            taps = [torch.cat([r[:, None], s.unflatten(0, (B, S))], dim=1) for r, s in zip(ref, rest)]
            taps += [r[:, None] for r in ref[len(rest):]]  # taps the neck passes through: reference only
        k_all = torch.cat([k.new_zeros(B, 1), k], dim=1)
        return self.neck(taps, k_all)

    def _encode(self, frames: torch.Tensor, num_taps: Optional[int] = None, **kwargs) -> List[torch.Tensor]:
        """The first ``num_taps`` (None: all) encoder taps of frames [M, 3, H, W], ``frame_chunk`` frames per call;
        ``kwargs`` go to the backbone (``with_cp=False``)."""
        chunk = self.frame_chunk or frames.shape[0]
        parts = [self.backbone(f, num_taps, **kwargs) for f in frames.split(chunk)]
        return [torch.cat(p, dim=0) for p in zip(*parts)]

    # ------------------------------------------------------------------ mmengine API
    def _forward(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> torch.Tensor:
        """Depth [B, 1, H, W] in metres (relative heads: disparity), stack fused when given."""
        inputs = as_depth_inputs(inputs)
        return self.decode_head.predict(self._taps(inputs), self.backbone.grid_size(inputs['img']))

    def loss(self, inputs: InputsType, data_samples: SampleList) -> Dict[str, torch.Tensor]:
        inputs = as_depth_inputs(inputs)
        taps = self._taps(inputs)
        return self.decode_head.loss(taps, self.backbone.grid_size(inputs['img']), data_samples, self.train_cfg)

    def predict(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> SampleList:
        return self.postprocess_result(self._forward(inputs), data_samples)

    # ------------------------------------------------------------------ research API
    def forward_depth(self, image: torch.Tensor, stack: Optional[torch.Tensor] = None,
                      k: Optional[torch.Tensor] = None) -> torch.Tensor:
        """image [B, 3, H, W] normalised (H, W multiples of the patch size); stack [B, S, 3, H, W] normalised like
        the image; k [B, S] bokeh strengths. Returns depth [B, H, W] in metres (relative heads: disparity)."""
        inputs = dict(img=image)
        if stack is not None:
            inputs['stack'] = stack
        if k is not None:
            inputs['stack_k'] = k
        return self._forward(inputs)[:, 0]
