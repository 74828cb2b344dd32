"""Loading transforms: an image file into ``img``, a focal stack's frame files into ``focal_stack`` and a depth map
file into ``gt_depth`` (metres)."""
import io
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from mmbokeh.registry import TRANSFORMS

DEFAULT_EXR_CHANNELS = ('Y', 'R', 'Z', 'depth')
DEFAULT_DEPTH_SCALE = 1000.0


def check_backend_args(backend_args: Optional[dict], who: str) -> None:
    """Raise when ``backend_args`` names a file backend mmengine does not know (it would fail at the first file with
    a bare ``KeyError``)."""
    if backend_args is None:
        return
    if not isinstance(backend_args, dict):
        raise TypeError(f'{who} backend_args must be a dict (mmengine file backend arguments) or None, got '
                        f'{type(backend_args).__name__}')
    name = backend_args.get('backend')
    try:
        from mmengine.fileio.backends.registry_utils import backends
    except ImportError:  # another mmengine layout: leave the check to mmengine
        return
    if name is not None and name not in backends:
        raise ValueError(f"{who} backend_args['backend'] must be one of the registered mmengine file backends "
                         f'{sorted(backends)}, got {name!r}')


def _check_decoding(color_type, imdecode_backend: str, who: str) -> None:
    """Raise when mmcv cannot decode with ``color_type`` / ``imdecode_backend`` (mmcv would fail on every file,
    which the loader would report as corrupt files)."""
    flags = sorted(mmcv.image.io.imread_flags)
    if isinstance(color_type, bool) or not (isinstance(color_type, int) or color_type in flags):
        raise ValueError(f'{who} color_type must be one of {flags} (or an OpenCV imread flag int), got '
                         f'{color_type!r}')
    supported = list(mmcv.image.io.supported_backends)
    if imdecode_backend not in supported:
        raise ValueError(f'{who} imdecode_backend must be one of {supported}, got {imdecode_backend!r}')
    needs = dict(turbojpeg=('TurboJPEG', 'PyTurboJPEG'), tifffile=('tifffile', 'tifffile'), pillow=('Image', 'Pillow'))
    if imdecode_backend in needs and getattr(mmcv.image.io, needs[imdecode_backend][0], None) is None:
        raise ValueError(f"{who} imdecode_backend={imdecode_backend!r} needs the {needs[imdecode_backend][1]} package, "
                         f"which is not installed; install it or use imdecode_backend='cv2'")


def _read_bytes(path: str, what: str, backend_args: Optional[dict]) -> bytes:
    """Read a whole file; a missing file raises FileNotFoundError naming it and saying what it should hold."""
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(f'{what} file not found: {path}') from err


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Load ``results['img_path']`` into ``results['img']``.

    Sets ``img`` (H, W, 3) uint8 in BGR order as mmcv decodes it (float32 when ``to_float32``), ``img_shape`` and
    ``ori_shape`` (both (H, W)).

    Args:
        to_float32: cast the image to float32 (values stay in [0, 255]).
        color_type: mmcv decode flag ('color' gives 3 channels).
        imdecode_backend: mmcv decode backend ('cv2', 'pillow', ...).
        backend_args: mmengine file backend arguments.
    """

    def __init__(self, to_float32: bool = False, color_type: str = 'color', imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        _check_decoding(color_type, imdecode_backend, type(self).__name__)
        check_backend_args(backend_args, type(self).__name__)
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _decode(self, path: str, what: str = 'Image') -> np.ndarray:
        """Read and decode one image file (JPEG, PNG, TIFF, ... as OpenCV/Pillow decode them) as configured."""
        content = _read_bytes(path, what, self.backend_args)
        try:
            img = mmcv.imfrombytes(content, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as err:  # decoders raise many types on garbage input
            raise ValueError(f'{what} file could not be decoded (corrupt or not an image): {path}') from err
        if img is None or img.size == 0:
            raise ValueError(f'{what} file could not be decoded (corrupt or not an image): {path}')
        return img.astype(np.float32) if self.to_float32 else img

    def transform(self, results: Dict) -> Dict:
        if 'img_path' not in results:
            raise KeyError('LoadImage needs results["img_path"]; got keys ' + str(sorted(results)))
        img = self._decode(results['img_path'])
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadFocalStack(LoadImage):
    """Load the frames ``results['focal_stack_paths']`` (S paths) into ``results['focal_stack']``.

    Sets ``focal_stack`` (S, H, W, 3) decoded like :class:`LoadImage` (uint8 BGR, float32 with ``to_float32``);
    ``focus_dists`` (S,) comes with the dataset item and is checked to have S values. Every frame must have the
    size of the first, and of ``img`` when it is already loaded (focal stacks are aligned with their image).

    When ``img`` is not loaded yet it is loaded too, so this one transform loads a focal-stack sample: the frame
    ``img_frame`` (an index, set by datasets without an all-in-focus image; no second read), else ``img_path`` (the
    all-in-focus image). Sets ``img_shape`` and ``ori_shape`` then.

    Args: as :class:`LoadImage`.
    """

    def transform(self, results: Dict) -> Dict:
        paths: Sequence[str] = results.get('focal_stack_paths', ())
        if not paths:
            raise KeyError('LoadFocalStack needs results["focal_stack_paths"] (one path per frame); got keys '
                           + str(sorted(results)))
        frames = [self._decode(path, 'Focal stack frame') for path in paths]
        for path, frame in zip(paths, frames):
            if frame.shape != frames[0].shape:
                raise ValueError(f'Focal stack frames differ in size: {frames[0].shape} ({paths[0]}) vs '
                                 f'{frame.shape} ({path})')
        if 'img' in results and tuple(results['img'].shape) != frames[0].shape:
            raise ValueError(f'Focal stack frames {frames[0].shape} ({paths[0]}) are not aligned with img '
                             f'{tuple(results["img"].shape)} ({results.get("img_path")})')
        if 'focus_dists' in results and np.size(results['focus_dists']) != len(frames):
            raise ValueError(f'LoadFocalStack: focus_dists has {np.size(results["focus_dists"])} values for the '
                             f'{len(frames)} frames of focal_stack_paths (one focus distance per frame) '
                             f'({paths[0]}, ...)')
        results['focal_stack'] = np.stack(frames)
        if 'img' not in results:
            if results.get('img_frame') is not None:
                img = frames[int(results['img_frame'])].copy()
            elif 'img_path' in results:
                img = self._decode(results['img_path'], 'All-in-focus image')
                if img.shape != frames[0].shape:
                    raise ValueError(f'All-in-focus image {img.shape} ({results["img_path"]}) is not aligned with '
                                     f'the focal stack frames {frames[0].shape} ({paths[0]})')
            else:
                raise KeyError('LoadFocalStack: the item has neither "img_frame" nor "img_path" to take img from')
            results['img'] = img
            results['img_shape'] = results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadDepth(BaseTransform):
    """Load ``results['depth_path']`` into ``results['gt_depth']``: (H, W) float32 metres, 0 = invalid.

    Formats, chosen by suffix:

    - ``.png``: single-channel 16-bit integers divided by the depth scale (1000: millimetres).
    - ``.exr``: float depth in metres, read with the ``OpenEXR`` package from channel ``exr_channel``
      (default: the first of 'Y', 'R', 'Z', 'depth' present).
    - ``.npy``: (H, W) array (singleton axes squeezed); float arrays are metres, integer arrays are divided by
      the depth scale like PNG.

    The depth scale is ``depth_scale`` when given, else ``results['depth_scale']`` (set by datasets), else 1000.
    With ``clip_range`` = (lo, hi) metres the depth is then clipped as ``np.clip`` does (DEReD's FoD500 loader:
    (0.1, 3)): +inf becomes hi, 0 and negatives become lo, so every pixel is valid; for renders, not for sensors
    whose 0 marks a hole. Non-finite and negative values left become 0 (invalid). Sets ``gt_depth``,
    ``depth_scale`` (the divisor applied, 1.0 for float data) and ``ori_shape``; if ``img`` is already loaded, its
    (H, W) must equal the depth's.

    Args:
        depth_scale: divisor that turns stored integers into metres; None defers to the results (see above).
        exr_channel: EXR channel name; None picks the first of ``DEFAULT_EXR_CHANNELS`` present.
        clip_range: (lo, hi) metres to clip the loaded depth to, or None.
        backend_args: mmengine file backend arguments.
    """

    def __init__(self, depth_scale: Optional[float] = None, exr_channel: Optional[str] = None,
                 clip_range: Optional[Sequence[float]] = None, backend_args: Optional[dict] = None) -> None:
        if depth_scale is not None and not depth_scale > 0:
            raise ValueError(f'LoadDepth depth_scale must be > 0, got {depth_scale}')
        if clip_range is not None and not (len(clip_range) == 2 and 0 <= clip_range[0] < clip_range[1]):
            raise ValueError(f'LoadDepth clip_range must be (lo, hi) metres with 0 <= lo < hi, got {clip_range!r}')
        check_backend_args(backend_args, 'LoadDepth')
        self.clip_range = None if clip_range is None else (float(clip_range[0]), float(clip_range[1]))
        self.depth_scale = None if depth_scale is None else float(depth_scale)
        self.exr_channel = exr_channel
        self.backend_args = backend_args

    def transform(self, results: Dict) -> Dict:
        if 'depth_path' not in results:
            raise KeyError('LoadDepth needs results["depth_path"]; got keys ' + str(sorted(results)))
        path = results['depth_path']
        int_scale = self.depth_scale or float(results.get('depth_scale', DEFAULT_DEPTH_SCALE))
        if not int_scale > 0:
            raise ValueError(f'LoadDepth: results["depth_scale"] must be > 0, got {int_scale} for {path}')
        suffix = osp.splitext(str(path))[1].lower()
        if suffix == '.png':
            depth, scale = self._load_png(path), int_scale
        elif suffix == '.exr':
            depth, scale = self._load_exr(path), 1.0
        elif suffix == '.npy':
            depth = self._load_npy(path)
            scale = 1.0 if np.issubdtype(depth.dtype, np.floating) else int_scale
        else:
            raise ValueError(f'Unsupported depth file type {suffix!r} (expected .png, .exr or .npy): {path}')
        depth = depth.astype(np.float32) / np.float32(scale)
        if self.clip_range is not None:
            depth = np.clip(depth, *self.clip_range).astype(np.float32)
        depth[~np.isfinite(depth) | (depth < 0)] = 0.0
        if 'img' in results and tuple(results['img'].shape[:2]) != depth.shape:
            raise ValueError(f'Image and depth sizes differ: image {tuple(results["img"].shape[:2])} '
                             f'({results.get("img_path")}) vs depth {depth.shape} ({path})')
        results['gt_depth'] = depth
        results['depth_scale'] = scale
        results['ori_shape'] = depth.shape
        return results

    def _load_png(self, path: str) -> np.ndarray:
        content = _read_bytes(path, 'Depth', self.backend_args)
        try:
            depth = mmcv.imfrombytes(content, flag='unchanged', backend='cv2')
        except Exception as err:
            raise ValueError(f'Depth PNG could not be decoded (corrupt or not a PNG): {path}') from err
        if depth is None or depth.size == 0:
            raise ValueError(f'Depth PNG could not be decoded (corrupt or not a PNG): {path}')
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise ValueError(f'Depth PNG must be single-channel 16-bit, got dtype {depth.dtype} '
                             f'shape {depth.shape}: {path}')
        return depth

    def _load_exr(self, path: str) -> np.ndarray:
        import OpenEXR
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(f'Depth file not found: {path}')
        names = [self.exr_channel] if self.exr_channel else list(DEFAULT_EXR_CHANNELS)
        with fileio.get_local_path(path, backend_args=self.backend_args) as local:
            try:
                channels = OpenEXR.File(str(local), separate_channels=True).channels()
            except Exception as err:
                raise ValueError(f'Depth EXR could not be read (corrupt or not OpenEXR): {path}') from err
            for name in names:
                if name in channels:
                    return np.array(channels[name].pixels)
        raise KeyError(f'Depth EXR has none of the channels {names}; it has {sorted(channels)}: {path}')

    def _load_npy(self, path: str) -> np.ndarray:
        content = _read_bytes(path, 'Depth', self.backend_args)
        try:
            depth = np.load(io.BytesIO(content), allow_pickle=False)
        except Exception as err:
            raise ValueError(f'Depth .npy could not be read (corrupt or not a numpy array file): {path}') from err
        depth = np.squeeze(depth)
        if depth.ndim != 2:
            raise ValueError(f'Depth .npy must hold an (H, W) array, got shape {depth.shape}: {path}')
        if not (np.issubdtype(depth.dtype, np.floating) or np.issubdtype(depth.dtype, np.integer)):
            raise ValueError(f'Depth .npy must hold numbers, got dtype {depth.dtype}: {path}')
        return depth

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(depth_scale={self.depth_scale}, exr_channel={self.exr_channel!r}, '
                f'clip_range={self.clip_range})')

