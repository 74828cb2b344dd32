"""``physical`` backend: depth -> signed defocus (thin lens, calibrated K) -> scatter rendering."""
import math
from typing import List, Optional, Union

import cv2
import numpy as np
import torch

from mmbokeh.ops import splat_bokeh
from mmbokeh.ops.splat_bokeh import LAYER_WIDTH, MAX_RADIUS, check_layer_width, occlusion_mode
from mmbokeh.optics import signed_defocus
from mmbokeh.registry import BOKEH_BACKENDS

from .base import BokehBackend, RenderedStack, StackRequest


@BOKEH_BACKENDS.register_module('physical')
class PhysicalBackend(BokehBackend):
    """Render each K with ``mmbokeh.ops.splat_bokeh`` from the signed defocus ``K (1/d - 1/s)`` (pixels).

    Honesty rule (``docs/design.md``, "Honesty rule"): a stack rendered from the **ground-truth** depth
    (``BokehStackGenerator(depth_key='gt_depth')``) leaks the answer. It is a legitimate input only for depth from
    defocus (the camera made that blur) and as Stage-1 training pairs. A monocular-depth benchmark must take its
    depth from elsewhere, e.g. a depth model's own prediction stored under another key (``depth_key='pred_depth'``,
    see ``tools/make_bokeh_stacks.py``'s ``depth_model``), or use the ``diffusion`` / ``cached`` backends. The
    source is recorded as ``'physical:<depth_key>'``.

    Pixels with invalid depth (0 or non-finite) are treated as lying on the focus plane (no blur). A K of exactly 0
    gives the input image itself (the reference frame).

    ``resolution='full'`` renders every frame at full resolution (tens of ms per 640x480 frame on one CPU core,
    growing linearly with the blur radius; see ``docs/performance.md``). ``resolution='pyramid'`` is a fast
    approximation for data loading: each frame is rendered at 1/f of the resolution, with the power of two f >= 2
    that keeps its largest CoC radius within ``pyramid_radius`` low-resolution pixels, upsampled bilinearly, and
    blended with the sharp input by the target pixel's own CoC radius r: sharp for r <= f/2, rendered for r >= f,
    linear in between. In-focus pixels therefore stay exactly sharp, but blur below f pixels is approximated by that
    blend and a blurred foreground no longer spills over in-focus pixels behind it.

    Args:
        kernel: 'soft_disc' (BokehMe, what BokehDepth trained with) or 'gaussian'.
        occlusion: occlusion-aware scattering (a sharp foreground keeps its edges over a blurred background):
            'layered' (default: the occlusion gate with each source's defocus quantised to depth layers
            ``layer_width`` px deep, in time linear in the blur radius; about 1.2-1.3x the plain renderer and
            within 0.02 of 'exact' per pixel on [0, 1] images (tested), see ``mmbokeh.ops.splat_bokeh``), ``True`` /
            'exact' (the per-pixel gate, r^2 per source, about 5x slower for a 5-level 640x480 stack up to K = 30),
            ``False`` / 'none'.
        gamma: render in ``x ** gamma`` space (2.2 approximates linear light, brightening highlights' bokeh).
        resolution: 'full' (exact) or 'pyramid' (fast approximation, see above).
        pyramid_radius: largest CoC radius, in low-resolution pixels, of a 'pyramid' render.
        impl: ops implementation ('reference', 'cpu', 'cuda' or None = automatic).
        layer_width: depth-layer width (pixels of defocus) of ``occlusion='layered'``.
    """

    RESOLUTIONS = ('full', 'pyramid')
    #: Image dtypes the renderer maps to [0, 1] and back without overflow.
    IMAGE_DTYPES = tuple(np.dtype(d) for d in ('uint8', 'uint16', 'float16', 'float32', 'float64'))

    needs_depth = True
    needs_focus = True

    def __init__(self, kernel: str = 'soft_disc', occlusion: Union[bool, str] = 'layered', gamma: float = 1.0,
                 resolution: str = 'full', pyramid_radius: float = 3.0, impl: Optional[str] = None,
                 layer_width: float = LAYER_WIDTH) -> None:
        if not gamma > 0:
            raise ValueError(f'physical backend gamma must be > 0, got {gamma!r}')
        if resolution not in self.RESOLUTIONS:
            raise ValueError(f'physical backend resolution must be one of {self.RESOLUTIONS}, got {resolution!r}')
        if not pyramid_radius >= 1:
            raise ValueError(f'physical backend pyramid_radius must be >= 1 pixel, got {pyramid_radius!r}')
        self.kernel, self.occlusion = kernel, occlusion_mode(occlusion)
        self.layer_width = check_layer_width(layer_width)
        self.gamma, self.impl = float(gamma), impl
        self.resolution, self.pyramid_radius = resolution, float(pyramid_radius)

    def render(self, request: StackRequest) -> RenderedStack:
        img = request.img
        if request.k_values is None or request.focus_dist is None or request.depth is None:
            raise ValueError('physical backend needs k_values, focus_dist and depth in its StackRequest')
        if request.depth.shape != img.shape[:2]:
            raise ValueError(f'physical backend: depth {request.depth.shape} is not aligned with img {img.shape[:2]}')
        if img.dtype not in self.IMAGE_DTYPES:
            raise ValueError(f'physical backend: img dtype must be one of {[str(d) for d in self.IMAGE_DTYPES]}, '
                             f'got {img.dtype}')
        k = np.asarray(request.k_values, np.float32).reshape(-1)
        focus = float(request.focus_dist)
        depth = np.asarray(request.depth, np.float32)
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(focus))
        if k.size and depth.size:
            reach = float(np.abs(k).max()) * float(np.abs(1.0 / depth.astype(np.float64) - 1.0 / focus).max())
            limit = MAX_RADIUS if self.resolution == 'full' else np.inf
            if reach > limit:
                raise ValueError(f'physical backend: K up to {float(np.abs(k).max()):g} with depth '
                                 f'{request.depth_key} in [{float(depth.min()):g}, {float(depth.max()):g}] m and focus '
                                 f'{focus:g} m gives a CoC of {reach:.0f} px, above the {MAX_RADIUS:.0f} px the ops '
                                 'support; check the depth units (metres) or lower K')
        stack = np.empty((len(k), ) + img.shape, dtype=img.dtype)
        stack[k == 0] = img
        todo = np.flatnonzero(k != 0)
        if todo.size:
            stack[todo] = self._splat(img, depth, focus, k[todo])
        return RenderedStack(stack, k, f'physical:{request.depth_key}')

    def _splat(self, img: np.ndarray, depth: np.ndarray, focus: float, k: np.ndarray) -> np.ndarray:
        """Frames (S, H, W, 3) for strengths ``k`` (S,), all non-zero, in the dtype and value range of ``img``
        (integer images: their dtype's full range, e.g. 0-65535 for uint16; float images: 0-255)."""
        white = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 255.0
        image = np.asarray(img, dtype=np.float32) / white
        if self.gamma != 1.0:
            image = np.maximum(image, 0) ** self.gamma
        if self.resolution == 'full':
            defocus = signed_defocus(torch.from_numpy(depth)[None, None], focus, torch.from_numpy(k).view(-1, 1, 1, 1))
            frames = self._splat_at(image, defocus)
        else:
            frames = self._pyramid(image, depth, focus, k)
        if self.gamma != 1.0:
            frames = np.maximum(frames, 0) ** (1.0 / self.gamma)
        frames = np.clip(frames * white, 0, white)
        return np.rint(frames).astype(img.dtype) if np.issubdtype(img.dtype, np.integer) else frames.astype(img.dtype)

    @torch.no_grad()
    def _splat_at(self, image: np.ndarray, defocus: torch.Tensor) -> np.ndarray:
        """``splat_bokeh`` of one image (h, w, 3) float32 with defocus [S, 1, h, w] (pixels at that resolution)
        -> (S, h, w, 3)."""
        batch = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].expand(len(defocus), -1, -1, -1)
        out = splat_bokeh(batch.contiguous(), defocus.contiguous(), kernel=self.kernel, occlusion=self.occlusion,
                          impl=self.impl, layer_width=self.layer_width)
        return out.permute(0, 2, 3, 1).numpy()

    def _pyramid(self, image: np.ndarray, depth: np.ndarray, focus: float, k: np.ndarray) -> np.ndarray:
        """The 'pyramid' approximation: image (H, W, 3) float32, depth (H, W) metres -> (S, H, W, 3) float32."""
        h, w = depth.shape
        radius = [np.abs(signed_defocus(depth, focus, float(kk))) for kk in k]  # full-resolution CoC radii, px
        largest = [float(r.max()) for r in radius]
        factors: List[int] = [max(2, 2**math.ceil(math.log2(max(r, 1e-6) / self.pyramid_radius))) for r in largest]
        out = np.repeat(image[None], len(k), axis=0)
        for f in sorted(set(factors)):
            # frames whose blur never reaches f/2 pixels stay sharp (the blend below would keep them so anyway)
            rows = [i for i, (g, r) in enumerate(zip(factors, largest)) if g == f and r > f / 2]
            if not rows:
                continue
            size = (math.ceil(w / f), math.ceil(h / f))
            low_img = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            # box-filtered disparity, so the low-resolution defocus is the mean of the full-resolution one
            low_depth = 1.0 / cv2.resize(1.0 / depth, size, interpolation=cv2.INTER_AREA)
            low_def = signed_defocus(torch.from_numpy(low_depth)[None, None], focus,
                                     torch.from_numpy(k[rows]).view(-1, 1, 1, 1)) / f
            low = self._splat_at(low_img, low_def)
            for row, frame in zip(rows, low):
                blend = np.clip((radius[row] - f / 2) * (2.0 / f), 0, 1)[..., None]
                up = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
                out[row] = image + blend * (up - image)
        return out
