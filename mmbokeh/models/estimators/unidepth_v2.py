"""UniDepthV2 (and UniDepthV2-DSFA, BokehDepth's default Stage-2 model): DINOv2 taps with class tokens ->
(defocus aggregation of all taps over a bokeh stack) -> camera module + camera-prompted depth decoder."""
from contextlib import nullcontext
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from mmbokeh.models.utils import TapBackbone, build_stack_neck, check_part
from mmbokeh.models.utils.unidepth_resolution import RATIO_BOUNDS, aspect_paddings, pixel_bounds, resize_to_pixels
from mmbokeh.registry import MODELS
from mmbokeh.structures import as_depth_inputs

from .base import BaseDepthEstimator, InputsType, SampleList

Taps = Tuple[List[torch.Tensor], List[torch.Tensor]]


def shift_principal_point(intrinsics: torch.Tensor, offset: float) -> torch.Tensor:
    """K [..., 3, 3] with ``offset`` pixels added to cx and cy: +0.5 converts mmbokeh's ``cam_intrinsics`` (pixel
    centres at integer coordinates) to UniDepth's convention (centres at ``u + 0.5``), -0.5 back."""
    out = intrinsics.clone()
    out[..., 0, 2] += offset
    out[..., 1, 2] += offset
    return out


@MODELS.register_module()
class UniDepthV2(BaseDepthEstimator):
    """UniDepthV2 with an optional defocus-aggregation neck (UniDepthV2-DSFA of official BokehDepth,
    ``UniDepth/unidepth/models/unidepthv2/unidepthv2_DSFA.py`` and ``encoder_DSFA.py``).

    The reference image and its S stack frames go through the same encoder as one batch of B*(S+1); the neck
    (``DefocusAggregation``, official: all four taps) fuses the normed taps along the defocus axis after the full
    encoder pass and hands the reference tokens to the decoder; the class tokens are the reference's (not fused), so
    the predicted camera does not depend on the stack. Without a neck or a stack it is plain UniDepthV2.

    Camera: with ``use_gt_camera`` (``train_cfg`` / ``test_cfg``, default True) and a ``cam_intrinsics`` (3 x 3,
    pixels of the network input, mmbokeh's pixel centres at integer coordinates) in the metainfo of every data sample
    (``NYUv2Dataset`` provides it and the geometric transforms keep it consistent), its rays replace the predicted
    ones, as the official model does when given a camera. The predicted intrinsics are returned either way.

    Inputs: ``img`` [B, 3, H, W] ImageNet-normalised RGB (``DepthDataPreprocessor``), H and W multiples of 14,
    ideally with W / H in [0.5, 2.5] and H * W in [200k, 600k] pixels as the official model expects (:meth:`infer`
    applies that rule to raw images); ``stack`` [B, S, 3, H, W] normalised alike; ``stack_k`` [B, S] raw K.

    Args:
        backbone: ``UniDepthDINOv2`` config (needs ``forward_with_cls``).
        decode_head: ``UniDepthV2Head`` config; ``in_channels`` and ``num_taps`` default to the backbone's.
        neck: optional ``DefocusAggregation`` config.
        train_cfg: ``min_depth`` / ``max_depth`` (metres) of valid ground truth (default 1e-3 / 80),
            ``use_gt_camera``.
        test_cfg: ``resize_to_ori``, ``use_gt_camera``.
        stack_grad: back-propagate through the stack frames' encoder passes (official: yes).
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 stack_grad: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, test_cfg={'use_gt_camera': True, **(test_cfg or {})},
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        check_part(self.backbone, TapBackbone, 'backbone')
        if not callable(getattr(self.backbone, 'forward_with_cls', None)):
            raise TypeError(f'backbone {type(self.backbone).__name__} has no forward_with_cls (class tokens for the '
                            'camera module); use UniDepthDINOv2')
        decode_head = dict(decode_head)
        decode_head.setdefault('in_channels', self.backbone.embed_dim)
        decode_head.setdefault('num_taps', self.backbone.num_taps)
        self.decode_head = MODELS.build(decode_head)
        self.neck = build_stack_neck(neck, self.backbone, MODELS)
        self.train_cfg = {'min_depth': 1e-3, 'max_depth': 80.0, 'use_gt_camera': True, **(train_cfg or {})}
        self.stack_grad = stack_grad

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs: InputsType) -> Taps:
        """(patch tokens [B, h*w, C] per tap, fused with the stack when there are a neck and a stack; class tokens
        [B, C] per tap, of the reference image)."""
        inputs = as_depth_inputs(inputs)
        image, stack = inputs['img'], inputs.get('stack')
        if stack is None or self.neck is None:
            return self.backbone.forward_with_cls(image)
        if 'stack_k' not in inputs:
            raise KeyError("UniDepthV2 fuses bokeh stacks: inputs['stack'] needs 'stack_k' [B, S]")
        B, S = stack.shape[:2]
        deep = self.neck.stack_taps(self.backbone.num_taps)
        stack_no_grad = self.training and not self.stack_grad
        if deep == self.backbone.num_taps and not stack_no_grad:  # one batch of B*(S+1) frames
            frames = torch.cat([image[:, None], stack], dim=1).flatten(0, 1)
            patches, cls_tokens = self.backbone.forward_with_cls(frames)
            taps = [t.unflatten(0, (B, S + 1)) for t in patches]
            cls_tokens = [c.unflatten(0, (B, S + 1))[:, 0] for c in cls_tokens]
        else:
            ref, cls_tokens = self.backbone.forward_with_cls(image)
            with torch.no_grad() if stack_no_grad else nullcontext():
                rest = self.backbone(stack.flatten(0, 1), deep)
            taps = [torch.cat([r[:, None], s.unflatten(0, (B, S))], dim=1) for r, s in zip(ref, rest)]
            taps += [r[:, None] for r in ref[len(rest):]]
        k = inputs['stack_k']
        return self.neck(taps, torch.cat([k.new_zeros(B, 1), k], dim=1)), cls_tokens

    def _camera(self, data_samples: Optional[SampleList], cfg: Dict, ref: torch.Tensor) -> Optional[torch.Tensor]:
        """Given K [B, 3, 3] in UniDepth's convention from the samples' ``cam_intrinsics``, or None."""
        if not cfg.get('use_gt_camera', True) or not data_samples:
            return None
        mats = [s.metainfo.get('cam_intrinsics') for s in data_samples]
        if any(m is None for m in mats):
            return None
        k = torch.as_tensor(np.stack([np.asarray(m, np.float32) for m in mats]), device=ref.device)
        return shift_principal_point(k, 0.5)

    def forward_outputs(self, inputs: InputsType, intrinsics: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """All head outputs (see ``UniDepthV2Head.forward``); ``intrinsics`` [B, 3, 3] in UniDepth's convention."""
        inputs = as_depth_inputs(inputs)
        image = inputs['img']
        taps, cls_tokens = self.extract_feat(inputs)
        return self.decode_head(taps, cls_tokens, self.backbone.grid_size(image), tuple(image.shape[-2:]), intrinsics)

    # ------------------------------------------------------------------ mmengine API
    def _forward(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> torch.Tensor:
        """Depth [B, 1, H, W] in metres (z), stack fused when given, the samples' camera used when given."""
        inputs = as_depth_inputs(inputs)
        camera = self._camera(data_samples, self.test_cfg, inputs['img'])
        return self.forward_outputs(inputs, camera)['depth']

    def loss(self, inputs: InputsType, data_samples: SampleList) -> Dict[str, torch.Tensor]:
        inputs = as_depth_inputs(inputs)
        outputs = self.forward_outputs(inputs, self._camera(data_samples, self.train_cfg, inputs['img']))
        return self.decode_head.loss_by_feat(outputs, data_samples, self.train_cfg)

    def predict(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> SampleList:
        """Samples with ``pred_depth`` (metres), ``pred_confidence`` (both as ``postprocess_result``) and metainfo
        ``pred_intrinsics`` (3 x 3, pixel centres at integers) for the image the depth is returned at."""
        inputs = as_depth_inputs(inputs)
        out = self.forward_outputs(inputs, self._camera(data_samples, self.test_cfg, inputs['img']))
        samples = self.postprocess_result(out['confidence'], data_samples)
        for sample in samples:
            sample.pred_confidence = sample.pred_depth
        samples = self.postprocess_result(out['depth'], samples)
        for k, sample in zip(out['intrinsics'].detach(), samples):
            h, w = sample.metainfo.get('img_shape', inputs['img'].shape[-2:])[:2]
            oh, ow = sample.pred_depth.shape[-2:]
            k = torch.diag(k.new_tensor([ow / w, oh / h, 1.0])) @ k  # edge-aligned pixel grid: exact for resizes
            sample.set_metainfo(dict(pred_intrinsics=shift_principal_point(k, -0.5).cpu().numpy()))
        return samples

    # ------------------------------------------------------------------ research API
    def forward_depth(self, image: torch.Tensor, stack: Optional[torch.Tensor] = None, k: Optional[torch.Tensor] = None,
                      camera: Optional[torch.Tensor] = None) -> torch.Tensor:
        """image [B, 3, H, W] normalised (H, W multiples of 14); stack [B, S, 3, H, W] normalised alike; k [B, S] raw
        bokeh strengths (None: zeros, the official model's value when it gets none); camera K [B, 3, 3] pixels, pixel
        centres at integer coordinates, or None (predicted). Returns depth [B, H, W] metres."""
        inputs = dict(img=image)
        if stack is not None:
            inputs.update(stack=stack, stack_k=k if k is not None else stack.new_zeros(stack.shape[:2]))
        intrinsics = None if camera is None else shift_principal_point(camera.float(), 0.5)
        return self.forward_outputs(inputs, intrinsics)['depth'][:, 0]

    @torch.no_grad()
    def infer(self, rgb: torch.Tensor, camera: Optional[torch.Tensor] = None, stack: Optional[torch.Tensor] = None,
              k: Optional[torch.Tensor] = None, resolution_level: Optional[float] = None) -> Dict[str, torch.Tensor]:
        """The official ``infer`` on raw images: rgb [B, 3, H, W] RGB 0-255; stack [B, S, 3, H, W] alike; k [B, S];
        camera K [B, 3, 3] of the image (pixel centres at integers) or None.

        ImageNet normalisation (the data preprocessor's mean/std), symmetric zero padding to W / H in [0.5, 2.5],
        bilinear resize into the pixel range (``resolution_level`` in [0, 10) picks a tenth of [200k, 600k]) with sides
        multiples of 14; outputs resized back and un-padded. Returns ``depth`` and ``confidence`` [B, 1, H, W] and
        the predicted ``intrinsics`` [B, 3, 3] of the input image (pixel centres at integers).
        """
        prep = self.data_preprocessor
        size = tuple(rgb.shape[-2:])
        pads, padded = aspect_paddings(size, RATIO_BOUNDS)
        factor, net_size = resize_to_pixels(padded, pixel_bounds(resolution_level))

        def prepare(x: torch.Tensor) -> torch.Tensor:
            x = F.pad((x.float() - prep.mean) / prep.std, pads, value=0.0)
            return F.interpolate(x, size=net_size, mode='bilinear', align_corners=False)

        inputs = dict(img=prepare(rgb))
        if stack is not None:
            inputs['stack'] = prepare(stack.flatten(0, 1)).unflatten(0, stack.shape[:2])
            inputs['stack_k'] = k if k is not None else stack.new_zeros(stack.shape[:2])
        intrinsics = None
        if camera is not None:
            intrinsics = shift_principal_point(camera.float(), 0.5)
            intrinsics[:, 0, 2] += pads[0]
            intrinsics[:, 1, 2] += pads[2]
            intrinsics[:, :2] *= factor
        out = self.forward_outputs(inputs, intrinsics)
        left, right, top, bottom = pads

        def restore(x: torch.Tensor) -> torch.Tensor:
            x = F.interpolate(x, size=padded, mode='bilinear', align_corners=False)
            return x[..., top:padded[0] - bottom, left:padded[1] - right]

        pred_k = out['intrinsics'].clone()
        pred_k[:, :2] /= factor
        pred_k[:, 0, 2] -= left
        pred_k[:, 1, 2] -= top
        return dict(depth=restore(out['depth']), confidence=restore(out['confidence']),
                    intrinsics=shift_principal_point(pred_k, -0.5))
