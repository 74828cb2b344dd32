"""SDNet: Siamese defocus network + Gaussian-splat depth-of-field reconstruction + residual DepthNet.

Zhang, Xu, Zhang, Lu, "Depth Estimation Based on 3D Gaussian Splatting Siamese Defocus". No public code exists; the
choices this implementation makes where the paper is silent are listed in docs/sdnet.md.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch

from mmbokeh.models.gaussian_dof import intrinsics_from_camera
from mmbokeh.optics import depth_from_signed_defocus, k_from_camera
from mmbokeh.registry import MODELS
from mmbokeh.structures import CAMERA_FIELDS, as_depth_inputs, stack_gt_depth

from .base import BaseDepthEstimator, InputsType, SampleList

Tensors = Dict[str, torch.Tensor]


@MODELS.register_module()
class SDNet(BaseDepthEstimator):
    """Depth from one defocused image, trained on focal stacks (inputs ``stack``, ``stack_focus``, ``camera``).

    Training, per sample, ``num_views`` differently focused frames of its focal stack:

    1. Siamese defocus network: the frames (with their focus distance as a 4th channel) go through one shared
       ``backbone`` (MPViT); ``neck``
       (``ViewMaxPoolFusion``) fuses each view's features with their maximum over the views at every level; the
       ``defocus_head`` predicts each view's defocus map and signed CoC map (px).
    2. Thin lens: each view's CoC map and focus distance give a depth map,
       ``d = 1 / (1/s + c / K)`` with ``K = f^2 s / (2 N (s - f) p)`` from ``camera``.
    3. Gaussian-splat DoF branch (``splat``, e.g. ``GaussianDoFRenderer``): Gaussians back-projected from the first
       view's thin-lens depth, coloured by ``img``, are rendered at every view with that view's predicted |CoC|; the
       rendered images give the reconstruction and blur losses (eq. 14), the rendered depth (eq. 13) is the initial
       depth. Without ``splat`` the thin-lens depth is the initial depth.
    4. ``depth_net`` (``DepthNet``) refines it from (frame, defocus map, initial depth): depth = initial + residual,
       trained with L1 (eq. 15) and smoothness.

    Inference takes one defocused image: the stack frame ``test_cfg.view`` (None: the middle one) with its focus
    distance, or, with no stack in the inputs, ``img`` with ``test_cfg.focus_dist`` and ``inputs['camera']`` (or
    ``test_cfg.camera``). Predictions: ``pred_depth``, ``pred_defocus``, ``pred_coc`` (and ``pred_init_depth``).

    Args:
        backbone: multi-scale encoder with ``out_channels`` (``MPViT``, ``TimmFeatures``).
        defocus_head: ``DefocusHead`` config (``in_channels`` defaults to the backbone's ``out_channels``).
            ``backbone=None, defocus_head=None``: DepthNet alone on the frame (the baseline without defocus map).
        depth_net: ``DepthNet`` config.
        neck: ``ViewMaxPoolFusion`` config (``in_channels`` defaults to the backbone's), or None: no fusion
            across views (the "without Siamese" ablation with ``num_views=1``).
        splat: ``GaussianDoFRenderer`` config, or None.
        num_views: frames per sample in training (>= 1; the defocus loss needs 2).
        focus_channel: append each frame's focus distance (/ ``train_cfg.max_depth``) as a constant 4th input
            channel of the encoder (the backbone's ``in_channels`` defaults to 4), as DefocusNet and DEReD feed
            their networks: the sign of the CoC depends on it.
        train_cfg: ``min_depth`` / ``max_depth`` (metres: valid ground truth and the thin-lens depth range),
            ``views`` (fixed frame indices, or None: a random set per sample and step), ``view_seed``,
            ``init_depth_grad`` (True: DepthNet's losses reach the CoC head through the initial depth).
        test_cfg: ``view``, ``focus_dist`` (metres), ``camera`` (dict ``focal_length``, ``f_number``,
            ``pixel_size``) and :class:`BaseDepthEstimator`'s ``resize_to_ori``.
    """

    def __init__(self,
                 backbone: Optional[dict],
                 defocus_head: Optional[dict],
                 depth_net: dict,
                 neck: Optional[dict] = dict(type='mmbokeh.ViewMaxPoolFusion'),
                 splat: Optional[dict] = dict(type='mmbokeh.GaussianDoFRenderer'),
                 num_views: int = 2,
                 focus_channel: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmbokeh.DepthDataPreprocessor', pad_size_divisor=32)
        super().__init__(data_preprocessor=data_preprocessor, test_cfg=test_cfg, init_cfg=init_cfg)
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f'SDNet: num_views must be an int >= 1, got {num_views!r}')
        if (backbone is None) != (defocus_head is None):
            raise ValueError('SDNet: backbone and defocus_head go together (both None: DepthNet alone, the '
                             'same-budget baseline without a defocus map)')
        self.backbone = self.neck = self.defocus_head = self.splat = None
        self.focus_channel = bool(focus_channel)
        if backbone is not None:
            if self.focus_channel:
                backbone = {'in_channels': 4, **backbone}
            self.backbone = MODELS.build(backbone)
            channels = getattr(self.backbone, 'out_channels', None)
            if channels is None:
                raise TypeError(f'SDNet: backbone {type(self.backbone).__name__} must expose out_channels (a '
                                'multi-scale encoder such as mmbokeh.MPViT or mmbokeh.TimmFeatures)')
            self.neck = None if neck is None else MODELS.build({'in_channels': list(channels), **neck})
            self.defocus_head = MODELS.build({'in_channels': list(channels), **defocus_head})
            self.splat = None if splat is None else MODELS.build(splat)
        self.depth_net = MODELS.build(depth_net)
        self.num_views = num_views
        self.train_cfg = {'min_depth': 1e-3, 'max_depth': 10.0, 'views': None, 'view_seed': 0,
                          'init_depth_grad': True, **(train_cfg or {})}
        views = self.train_cfg['views']
        if views is not None and len(views) != num_views:
            raise ValueError(f'SDNet: train_cfg.views {views!r} must list num_views={num_views} frame indices')
        self.test_cfg = {'view': None, 'focus_dist': None, 'camera': None, **self.test_cfg}
        # Steps taken, in the checkpoint so that a resumed run draws the same training views.
        self.register_buffer('num_loss_calls', torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ pieces
    def _to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the data preprocessor's normalisation: [..., 3, H, W] -> RGB in [0, 1]."""
        pre = self.data_preprocessor
        if getattr(pre, '_enable_normalize', False):
            x = x * pre.std + pre.mean
        return (x / 255.0).clamp(0.0, 1.0)

    def extract_feat(self, inputs: InputsType) -> List[torch.Tensor]:
        """Fused multi-scale features of every stack frame, [B*S, C_i, h_i, w_i] per level (views of a sample
        adjacent)."""
        inputs = as_depth_inputs(inputs)
        self._require(inputs, ('stack', 'stack_focus'), 'feature extraction')
        return self._features(inputs['stack'], inputs['stack_focus'])

    def _features(self, frames: torch.Tensor, focus: torch.Tensor) -> List[torch.Tensor]:
        """frames [B, V, 3, H, W], focus [B, V] metres -> fused encoder levels [B*V, C_i, h_i, w_i]."""
        x = frames.flatten(0, 1)
        if self.focus_channel:  # DefocusNet's and DEReD's RGB + focus-distance input, focus / max_depth
            plane = (focus.flatten(0, 1) / self.train_cfg['max_depth'])[:, None, None, None]
            x = torch.cat([x, plane.to(x).expand(-1, 1, *x.shape[-2:])], dim=1)
        feats = list(self.backbone(x))
        return feats if self.neck is None else self.neck(feats, frames.shape[1])

    def forward_views(self, frames: torch.Tensor, focus: torch.Tensor, camera: torch.Tensor,
                      colors: torch.Tensor) -> Tensors:
        """Run the whole model on V views per sample.

        Args:
            frames: [B, V, 3, H, W] normalised frames; focus: [B, V] metres; camera: [B, 3] (``CAMERA_FIELDS``);
            colors: [B, 3, H, W] in [0, 1], the colours of the Gaussians.

        Returns:
            ``defocus``, ``coc`` (signed px), ``thin_lens_depth``, ``init_depth``, ``depth``, ``residual``: each
            [B, V, 1, H, W]; with ``splat`` also ``rendered`` [B, V, 3, H, W] and ``alpha`` [B, V, 1, H, W].
        """
        B, V = frames.shape[:2]
        size = frames.shape[-2:]
        if self.defocus_head is None:  # DepthNet alone
            refined = self.depth_net(frames.flatten(0, 1), None, None)
            return {name: refined[name].unflatten(0, (B, V)) for name in ('depth', 'residual')}
        out = self.defocus_head(self._features(frames, focus), size)
        out = {name: value.unflatten(0, (B, V)) for name, value in out.items()}
        focal_length, f_number, pixel_size = (camera[:, i:i + 1] for i in range(len(CAMERA_FIELDS)))
        k = k_from_camera(focal_length, f_number, focus, pixel_size)[..., None, None, None]
        lo, hi = self.train_cfg['min_depth'], self.train_cfg['max_depth']
        out['thin_lens_depth'] = depth_from_signed_defocus(out['coc'], focus[..., None, None, None], k, lo, hi)
        init = out['thin_lens_depth']
        if self.splat is not None:
            intrinsics = torch.stack([
                intrinsics_from_camera(float(c[0]), float(c[2]), int(size[1]), int(size[0])).to(frames)
                for c in camera])
            rendered = self.splat(colors, init[:, 0], out['coc'].abs(), intrinsics)
            out['rendered'], out['alpha'] = rendered['images'], rendered['alpha']
            # eq. 13's depth where the Gaussians cover the pixel, the thin-lens depth where they do not
            init = torch.where(rendered['alpha'] > 0.5, rendered['depth'], init)
        if not self.train_cfg['init_depth_grad']:
            init = init.detach()
        out['init_depth'] = init
        refined = self.depth_net(frames.flatten(0, 1), out['defocus'].flatten(0, 1), init.flatten(0, 1))
        out['depth'], out['residual'] = (refined[name].unflatten(0, (B, V)) for name in ('depth', 'residual'))
        return out

    def _train_views(self, batch: int, frames: int, device: torch.device) -> torch.Tensor:
        """[B, V] frame indices: ``train_cfg.views``, or distinct random frames drawn from (view_seed, step)."""
        if self.train_cfg['views'] is not None:
            idx = torch.as_tensor(self.train_cfg['views'], dtype=torch.long)
            if int(idx.min()) < -frames or int(idx.max()) >= frames:
                raise IndexError(f'SDNet: train_cfg.views {self.train_cfg["views"]} out of range for {frames} '
                                 'frames')
            return (idx % frames).expand(batch, -1).to(device)
        if frames < self.num_views:
            raise ValueError(f'SDNet: num_views={self.num_views} but the focal stacks have {frames} frames')
        gen = torch.Generator().manual_seed(int(self.train_cfg['view_seed']) * 1_000_003 + int(self.num_loss_calls))
        return torch.stack([torch.randperm(frames, generator=gen)[:self.num_views] for _ in range(batch)]).to(device)

    @staticmethod
    def _require(inputs: Tensors, keys: Sequence[str], why: str) -> None:
        missing = [k for k in keys if k not in inputs]
        if missing:
            raise KeyError(f'SDNet {why} needs inputs {missing} (a focal-stack pipeline packs them: focal_stack, '
                           f'focus_dists and camera); got {sorted(inputs)}')

    # ------------------------------------------------------------------ mmengine API
    def loss(self, inputs: InputsType, data_samples: SampleList) -> Tensors:
        inputs = as_depth_inputs(inputs)
        self._require(inputs, ('stack', 'stack_focus', 'camera'), 'training')
        stack, focus = inputs['stack'], inputs['stack_focus']
        B, S = stack.shape[:2]
        idx = self._train_views(B, S, stack.device)
        rows = torch.arange(B, device=stack.device)[:, None]
        frames = stack[rows, idx]
        out = self.forward_views(frames, focus[rows, idx], inputs['camera'], self._to_unit(inputs['img']))
        self.num_loss_calls += 1
        views01 = self._to_unit(frames)
        gt_coc, valid, losses = None, None, {}
        if self.defocus_head is not None and self.defocus_head.needs_gt_coc:
            gt = stack_gt_depth(data_samples).to(frames)[:, None]
            valid = (gt > self.train_cfg['min_depth']) & (gt <= self.train_cfg['max_depth'])
            camera = inputs['camera'][:, :, None, None, None]
            k = k_from_camera(camera[:, 0:1], camera[:, 1:2], focus[rows, idx][..., None, None, None],
                              camera[:, 2:3])
            gt_coc = k * (1.0 / gt.clamp(min=self.train_cfg['min_depth']) - 1.0 / focus[rows, idx][..., None, None,
                                                                                                     None])
        if self.defocus_head is not None:
            losses = self.defocus_head.loss_by_feat(out, views01, out.get('rendered'), gt_coc, valid)
        per_view = [s for s in data_samples for _ in range(self.num_views)]
        depth_out = {name: out[name].flatten(0, 1) for name in ('depth', 'residual')}
        losses.update(self.depth_net.loss_by_feat(depth_out, per_view, self.train_cfg, image=views01.flatten(0, 1)))
        return losses

    def _single_view(self, inputs: Tensors) -> Dict[str, torch.Tensor]:
        """The one defocused image of inference: (frames [B, 1, 3, H, W], focus [B, 1], camera [B, 3], colours)."""
        if 'stack' in inputs:
            self._require(inputs, ('stack_focus', 'camera'), 'inference on a focal stack')
            S = inputs['stack'].shape[1]
            view = S // 2 if self.test_cfg['view'] is None else int(self.test_cfg['view'])
            if not -S <= view < S:
                raise IndexError(f'SDNet: test_cfg.view={view} out of range for stacks of {S} frames')
            frames = inputs['stack'][:, view:view + 1] if view != -1 else inputs['stack'][:, -1:]
            focus = inputs['stack_focus'][:, view:view + 1] if view != -1 else inputs['stack_focus'][:, -1:]
        else:
            frames = inputs['img'][:, None]
            if self.test_cfg['focus_dist'] is None:
                raise KeyError('SDNet: inference on a single image needs test_cfg.focus_dist (metres) when the '
                               'inputs carry no focal stack')
            focus = frames.new_full((frames.shape[0], 1), float(self.test_cfg['focus_dist']))
        camera = inputs.get('camera')
        if camera is None:
            cam = self.test_cfg['camera']
            if cam is None:
                raise KeyError("SDNet: inference needs inputs['camera'] or test_cfg.camera = dict(focal_length=..., "
                               'f_number=..., pixel_size=...) (metres)')
            camera = frames.new_tensor([[float(cam[f]) for f in CAMERA_FIELDS]]).expand(frames.shape[0], -1)
        return dict(frames=frames, focus=focus, camera=camera, colors=self._to_unit(frames[:, 0]))

    def _forward(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> Tensors:
        """Single-view outputs, each [B, C, H, W]: depth, defocus, coc, init_depth, thin_lens_depth, residual."""
        out = self.forward_views(**self._single_view(as_depth_inputs(inputs)))
        return {name: value[:, 0] for name, value in out.items()}

    def predict(self, inputs: InputsType, data_samples: Optional[SampleList] = None) -> SampleList:
        out = self._forward(inputs)
        extra = {name: out[name] for name in ('defocus', 'coc', 'init_depth') if name in out}
        return self.postprocess_result(out['depth'], data_samples, extra)

    def forward_depth(self, image: torch.Tensor, focus_dist: Union[float, torch.Tensor],
                      camera: torch.Tensor) -> torch.Tensor:
        """image [B, 3, H, W] normalised; focus_dist metres (float or [B]); camera [B, 3] -> depth [B, H, W] m."""
        focus = torch.as_tensor(focus_dist, dtype=image.dtype, device=image.device).expand(image.shape[0])
        out = self.forward_views(image[:, None], focus[:, None], camera, self._to_unit(image))
        return out['depth'][:, 0, 0]
