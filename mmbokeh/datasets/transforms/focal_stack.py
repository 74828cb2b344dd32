"""Focal stacks rendered from an image and its depth with the Gaussian PSF layer (DEReD's generator).

``RenderFocalStack`` turns ``img`` (all in focus) and a depth map into ``focal_stack`` (S, H, W, 3) with
``focus_dists`` (S,) metres and the ``camera`` dict, the results every focal-stack dataset gives (see
``docs/datasets.md``, "Focal stacks"). The CoC radius of each pixel follows :func:`mmbokeh.optics.coc_radius_px`;
the blur is :func:`mmbokeh.ops.psf_blur` (a Gaussian of standard deviation CoC / 2, gathered over a ``window`` x
``window`` neighbourhood; radii at or below 1 px are not blurred).
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmbokeh.optics import CameraPreset, coc_radius_px, get_camera_preset
from mmbokeh.registry import TRANSFORMS
from mmbokeh.structures import CAMERA_FIELDS

CameraSpec = Union[str, Mapping[str, float], CameraPreset]
#: Depth clip of DEReD's NYUv2 generator (``np.clip(depth, 0.1, 10)`` metres) before the CoC.
DERED_DEPTH_CLIP = (0.1, 10.0)


def camera_dict(camera: Optional[CameraSpec], image_size: Optional[Tuple[int, int]] = None) -> Optional[Dict]:
    """A results ``camera`` dict (``focal_length`` m, ``f_number``, ``pixel_size`` m) from a preset name, a preset or
    a dict; None stays None.

    ``image_size`` = (H, W): a preset's pixel pitch is rescaled from the preset's own image size to this width
    (:meth:`CameraPreset.rescaled`); dicts are taken as given.
    """
    if camera is None:
        return None
    if isinstance(camera, str):
        camera = get_camera_preset(camera)
    if isinstance(camera, CameraPreset):
        if image_size is not None and tuple(image_size) != tuple(camera.image_size):
            camera = camera.rescaled(*image_size)
        return dict(focal_length=camera.focal_length, f_number=camera.f_number, pixel_size=camera.pixel_size)
    missing = [f for f in CAMERA_FIELDS if f not in camera]
    if missing:
        raise KeyError(f'camera dict needs {list(CAMERA_FIELDS)} (metres, f-number, metres), missing {missing}')
    return {f: float(camera[f]) for f in CAMERA_FIELDS}


#: ``impl`` values of :func:`mmbokeh.ops.psf_blur` (``mmbokeh.ops._backend.IMPLS`` plus automatic), checked when a
#: transform is built; not imported from the ops, which load lazily.
PSF_IMPLS = (None, 'auto', 'reference', 'cpu', 'cuda')


def check_focus_dists(focus_dists: Sequence[float], camera: Optional[CameraSpec], who: str) -> np.ndarray:
    """``focus_dists`` as a (S,) float32 array of finite metres beyond the camera's focal length (a thin lens
    focused at or inside its focal length forms no real image); ValueError naming ``who``'s field and the accepted
    values otherwise. ``camera`` None: only positivity is checked."""
    try:
        dists = np.asarray(focus_dists, np.float64).reshape(-1)
    except (TypeError, ValueError):
        dists = np.zeros(0)
    focal = None if camera is None else float(camera_dict(camera)['focal_length'])
    bound = f'> the focal_length {focal:g} m of the camera' if focal is not None else '> 0'
    if not len(dists) or not np.all(np.isfinite(dists)) or not np.all(dists > (focal or 0.0)):
        raise ValueError(f'{who} focus_dists must be a non-empty list of finite focus distances in metres, each '
                         f'{bound} (a lens cannot focus closer than its focal length); got {focus_dists!r}')
    return dists.astype(np.float32)


def focal_stack_coc(depth: np.ndarray, focus_dists: Sequence[float], camera: Mapping[str, float]) -> np.ndarray:
    """CoC radius in pixels of every pixel in every frame (SDNet eq. 2, :func:`mmbokeh.optics.coc_radius_px`).

    Args:
        depth: (H, W) metres, > 0.
        focus_dists: (S,) metres.
        camera: ``focal_length`` (m), ``f_number``, ``pixel_size`` (m).

    Returns:
        (S, H, W) float32 radii.
    """
    focus = np.asarray(focus_dists, np.float64).reshape(-1, 1, 1)
    coc = coc_radius_px(np.asarray(depth, np.float64)[None], focus, camera['focal_length'], camera['f_number'],
                        camera['pixel_size'])
    return np.asarray(coc, np.float32)


def render_focal_stack(img: np.ndarray, depth: np.ndarray, focus_dists: Sequence[float],
                       camera: Mapping[str, float], window: int = 7, impl: Optional[str] = None) -> np.ndarray:
    """Render one frame per focus distance with the Gaussian PSF layer.

    Args:
        img: (H, W, C) image, any channel order (kept), uint8 or float.
        depth: (H, W) metres, > 0 (clip it first).
        focus_dists: (S,) metres.
        camera: ``focal_length`` (m), ``f_number``, ``pixel_size`` (m).
        window: odd PSF window (DEReD: 7, which truncates radii above about 3 px; see ``psf_blur``).
        impl: ``psf_blur`` implementation (None: automatic).

    Returns:
        (S, H, W, C) frames: uint8 (rounded) for a uint8 image, else float32.
    """
    from mmbokeh.ops import psf_blur  # the ops load lazily; datasets without rendering never need them
    coc = focal_stack_coc(depth, focus_dists, camera)
    image = torch.from_numpy(np.ascontiguousarray(img, np.float32)).permute(2, 0, 1)[None]
    image = image.expand(len(coc), -1, -1, -1).contiguous()
    with torch.no_grad():
        frames = psf_blur(image, torch.from_numpy(coc)[:, None], window=window, impl=impl)
    frames = frames.permute(0, 2, 3, 1).numpy()
    if img.dtype == np.uint8:
        return np.clip(np.round(frames), 0, 255).astype(np.uint8)
    return frames.astype(np.float32)


@TRANSFORMS.register_module()
class RenderFocalStack(BaseTransform):
    """Make ``focal_stack`` from ``img`` and a depth map, as DEReD's NYUv2 generator does.

    Sets ``focal_stack`` (S, H, W, 3) (dtype of ``img``), ``focus_dists`` (S,) float32 metres, ``camera`` (dict,
    pixel pitch at the image's width) and ``focal_stack_source`` = ``'render:<depth_key>'`` (a stack rendered from
    the ground truth is a legitimate input only for depth from defocus: ``docs/design.md``, "Honesty rule").
    Put it before the geometric transforms, which then keep the frames aligned.

    Args:
        camera: preset name (``'nyuv2'``, ``'fod500'``, ... see ``mmbokeh.optics.CAMERA_PRESETS``), a preset or a
            dict ``focal_length`` (m), ``f_number``, ``pixel_size`` (m).
        focus_dists: metres; None takes the preset's ``focus_distances``.
        window: odd PSF window. DEReD's generator uses 7 although its radii reach about 24 px (a known flaw,
            kept here as the default so stacks match theirs; pass e.g. 51 for an untruncated blur).
        depth_key: results key of the (H, W) depth in metres.
        depth_clip: (lo, hi) metres the depth is clipped to first (DEReD: (0.1, 10)); 0 and holes become lo.
        rescale_pixel_size: a preset's pixel pitch holds at its ``image_size``; rescale it to the image's width.
        impl: ``psf_blur`` implementation ('reference', 'cpu', 'cuda', None: automatic).
    """

    def __init__(self, camera: CameraSpec = 'nyuv2', focus_dists: Optional[Sequence[float]] = None,
                 window: int = 7, depth_key: str = 'gt_depth',
                 depth_clip: Optional[Sequence[float]] = DERED_DEPTH_CLIP, rescale_pixel_size: bool = True,
                 impl: Optional[str] = None) -> None:
        self.camera = get_camera_preset(camera) if isinstance(camera, str) else camera
        camera_dict(self.camera)  # validate now
        if focus_dists is None:
            if not isinstance(self.camera, CameraPreset):
                raise ValueError('RenderFocalStack: focus_dists is needed when camera is a dict')
            focus_dists = self.camera.focus_distances
        self.focus_dists = check_focus_dists(focus_dists, self.camera, 'RenderFocalStack')
        if impl not in PSF_IMPLS:
            raise ValueError(f'RenderFocalStack impl must be one of {PSF_IMPLS} (the psf_blur implementation), got '
                             f'{impl!r}')
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ValueError(f'RenderFocalStack: window must be an odd positive int, got {window!r}')
        if depth_clip is not None and not (len(depth_clip) == 2 and 0 < depth_clip[0] < depth_clip[1]):
            raise ValueError(f'RenderFocalStack: depth_clip must be (lo, hi) metres with 0 < lo < hi, got '
                             f'{depth_clip!r}')
        self.window = window
        self.depth_key = depth_key
        self.depth_clip = None if depth_clip is None else (float(depth_clip[0]), float(depth_clip[1]))
        self.rescale_pixel_size = rescale_pixel_size
        self.impl = impl

    def transform(self, results: Dict) -> Dict:
        for key in ('img', self.depth_key):
            if key not in results:
                raise KeyError(f'RenderFocalStack needs results[{key!r}]; got keys {sorted(results)}')
        img, depth = results['img'], np.asarray(results[self.depth_key], np.float32)
        if depth.shape != img.shape[:2]:
            raise ValueError(f'RenderFocalStack: {self.depth_key} {depth.shape} is not aligned with img '
                             f'{img.shape[:2]} ({results.get("img_path")})')
        if self.depth_clip is not None:
            depth = np.clip(depth, *self.depth_clip)
        elif not np.all(depth > 0):
            raise ValueError(f'RenderFocalStack: {self.depth_key} has depths <= 0 and depth_clip is None '
                             f'({results.get("img_path")})')
        camera = camera_dict(self.camera, img.shape[:2] if self.rescale_pixel_size else None)
        results['focal_stack'] = render_focal_stack(img, depth, self.focus_dists, camera, self.window, self.impl)
        results['focus_dists'] = self.focus_dists.copy()
        results['camera'] = camera
        results['focal_stack_source'] = f'render:{self.depth_key}'
        return results

    def __repr__(self) -> str:
        name = self.camera.name if isinstance(self.camera, CameraPreset) else self.camera
        return (f'{self.__class__.__name__}(camera={name!r}, focus_dists={self.focus_dists.tolist()}, '
                f'window={self.window}, depth_key={self.depth_key!r}, depth_clip={self.depth_clip}, '
                f'rescale_pixel_size={self.rescale_pixel_size}, impl={self.impl!r})')
