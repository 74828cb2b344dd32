"""Per-image output files: stable names from image paths, and atomic writes (readers never see a half-written
file; an interrupted writer leaves no partial file)."""
import os.path as osp

from mmbokeh.utils.io import atomic_write_bytes  # noqa: F401  (re-exported for callers)


def output_stem(img_path: str) -> str:
    """File stem for the outputs of one image: ``<parent folder>_<image stem>``, unique across scene folders.

    'nyu/kitchen_0001/rgb_00001.jpg' -> 'kitchen_0001_rgb_00001'; 'synthetic://demo/3' -> 'demo_3'; 'a.png' -> 'a'.
    """
    path = img_path.split('://', 1)[-1].rstrip('/')
    parent = osp.basename(osp.dirname(path))
    stem = osp.splitext(osp.basename(path))[0]
    return f'{parent}_{stem}' if parent else stem
