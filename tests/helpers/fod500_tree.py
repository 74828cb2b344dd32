"""Miniature FoD500 trees in the real formats: DefocusNet's (TIFF frames + half-float EXR depth) and DEReD's
(PNG frames + AIF + .npy depth), shared by the dataset and the training-tool tests."""
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

H, W = 12, 16


def frame(scene: int, k: int) -> np.ndarray:
    """A (H, W, 3) uint8 BGR frame coding scene and slice."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 7 + k, y * 5 + scene % 50, np.full_like(x, 10 * k + 3)], -1).astype(np.uint8)


def depth_of(scene: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return (0.2 + 0.01 * x + 0.1 * y + 0.001 * scene).astype(np.float16)


def write_image(path: Path, img: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    path.write_bytes(buf.tobytes())


def write_defocusnet(root: Path, scenes=(0, 1, 400)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        for k in range(5):
            write_image(root / f'{scene:06d}_{k:02d}All.tif', frame(scene, k))
        d = depth_of(scene)
        OpenEXR.File({'compression': OpenEXR.ZIP_COMPRESSION, 'type': OpenEXR.scanlineimage},
                     {'R': d, 'G': d, 'B': d}).write(str(root / f'{scene:06d}Dpt.exr'))
    return root


def write_dered(root: Path, splits=dict(train=(0, 1), test=(7, ))) -> Path:
    for split, scenes in splits.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for scene in scenes:
            for k in range(5):
                write_image(folder / f'{scene:06d}_{k:02d}All.png', frame(scene, k))
            write_image(folder / f'{scene:06d}Aif.png', 255 - frame(scene, 0))
            d = depth_of(scene)
            d[0, 0], d[0, 1] = 5.0, 0.05  # clipped to 3 and 0.1 by DEReD's loader
            np.save(folder / f'{scene:06d}Dpt.npy', d[:, :, None])
    return root
