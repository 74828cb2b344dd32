"""Convert the official NYU Depth V2 labeled set into the mmsegmentation layout that NYUv2Dataset reads.

Usage:
    python tools/dataset_converters/nyu_labeled_mat.py nyu_depth_v2_labeled.mat splits.mat data/nyu

Inputs (https://cs.nyu.edu/~fergus/datasets/nyu_depth_v2.html):
    nyu_depth_v2_labeled.mat: MATLAB v7.3 (HDF5); h5py sees ``images`` [1449, 3, 640, 480] uint8 and ``depths``
        [1449, 640, 480] float32 metres, i.e. transposed (MATLAB is column-major).
    splits.mat: MATLAB v5; ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based indices into the labeled set.

Output under OUT_DIR: ``images/{train,test}/NNNN.jpg`` (480x640 RGB) and ``annotations/{train,test}/NNNN.png``
(uint16 depth in millimetres), NNNN the 1-based index in the .mat. Files are written atomically and existing
pairs are skipped, so an interrupted run resumes where it stopped.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
from tqdm import tqdm

from mmbokeh.utils.io import atomic_write_bytes

SPLIT_KEYS = {'train': 'trainNdxs', 'test': 'testNdxs'}


def read_splits(path: str, num_images: int) -> Dict[str, np.ndarray]:
    """{'train', 'test'} -> sorted 1-based indices from splits.mat, checked against ``num_images``."""
    from scipy.io import loadmat
    try:
        mat = loadmat(path)
    except Exception as err:
        raise ValueError(f'{path}: not a readable MATLAB v5 splits file ({err})') from err
    splits = {}
    for split, key in SPLIT_KEYS.items():
        if key not in mat:
            raise KeyError(f'{path}: no variable {key!r}; it has {sorted(k for k in mat if not k.startswith("__"))}')
        ndx = np.asarray(mat[key]).astype(np.int64).ravel()
        if ndx.size == 0 or ndx.min() < 1 or ndx.max() > num_images:
            raise ValueError(f'{path}: {key} must hold 1-based indices in [1, {num_images}], '
                             f'got range [{ndx.min() if ndx.size else None}, {ndx.max() if ndx.size else None}]')
        splits[split] = np.sort(ndx)
    overlap = np.intersect1d(splits['train'], splits['test'])
    if overlap.size:
        raise ValueError(f'{path}: train and test share {overlap.size} indices, e.g. {overlap[:5].tolist()}')
    return splits


def _dataset(h5file, key: str, path: str, ndim: int):
    if key not in h5file:
        raise KeyError(f'{path}: no dataset {key!r}; it has {sorted(h5file.keys())}')
    data = h5file[key]
    if data.ndim != ndim:
        raise ValueError(f'{path}: {key!r} should have {ndim} dimensions, got shape {data.shape}')
    return data


def _encode(ext: str, array: np.ndarray, params: List[int], path: str) -> bytes:
    ok, buf = cv2.imencode(ext, array, params)
    if not ok:
        raise OSError(f'could not encode {path}')
    return buf.tobytes()


def convert(mat_path: str, splits_path: str, out_dir: str, jpg_quality: int = 95,
            progress: bool = True) -> Dict[str, int]:
    """Write the mmseg layout; returns counts of pairs ``written`` and ``skipped`` (already complete)."""
    import h5py
    if not osp.isfile(mat_path):
        raise FileNotFoundError(f'labeled .mat not found: {mat_path}')
    if not osp.isfile(splits_path):
        raise FileNotFoundError(f'splits .mat not found: {splits_path}')
    counts = dict(written=0, skipped=0)
    with h5py.File(mat_path, 'r') as h5file:
        images = _dataset(h5file, 'images', mat_path, 4)
        depths = _dataset(h5file, 'depths', mat_path, 3)
        if images.shape[1] != 3 or images.shape[0] != depths.shape[0] or images.shape[2:] != depths.shape[1:]:
            raise ValueError(f'{mat_path}: expected images [N, 3, W, H] and depths [N, W, H], got '
                             f'{images.shape} and {depths.shape}')
        splits = read_splits(splits_path, images.shape[0])
        jobs = [(split, int(n)) for split in ('train', 'test') for n in splits[split]]
        for split, ndx in tqdm(jobs, desc='NYUv2 labeled -> mmseg layout', disable=not progress):
            img_path = osp.join(out_dir, 'images', split, f'{ndx:04d}.jpg')
            depth_path = osp.join(out_dir, 'annotations', split, f'{ndx:04d}.png')
            if osp.isfile(img_path) and osp.isfile(depth_path):
                counts['skipped'] += 1
                continue
            rgb = np.asarray(images[ndx - 1]).transpose(2, 1, 0)  # [3, W, H] -> [H, W, 3]
            depth_m = np.asarray(depths[ndx - 1], np.float64).T  # [W, H] -> [H, W]
            depth_mm = np.nan_to_num(np.round(depth_m * 1000.0), nan=0.0, posinf=0.0, neginf=0.0)
            depth_mm = np.clip(depth_mm, 0, np.iinfo(np.uint16).max).astype(np.uint16)
            atomic_write_bytes(depth_path, _encode('.png', depth_mm, [], depth_path))
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            atomic_write_bytes(img_path, _encode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, jpg_quality], img_path))
            counts['written'] += 1
    return counts


def main(argv: Optional[List[str]] = None) -> Dict[str, int]:
    parser = argparse.ArgumentParser(description='NYU Depth V2 labeled .mat -> images/ + annotations/ layout')
    parser.add_argument('mat', help='nyu_depth_v2_labeled.mat (MATLAB v7.3)')
    parser.add_argument('splits', help='splits.mat with trainNdxs / testNdxs')
    parser.add_argument('out_dir', help='output data root, e.g. data/nyu')
    parser.add_argument('--jpg-quality', type=int, default=95, help='JPEG quality of the RGB images (1-100)')
    args = parser.parse_args(argv)
    if not 1 <= args.jpg_quality <= 100:
        parser.error(f'--jpg-quality must be in [1, 100], got {args.jpg_quality}')
    counts = convert(args.mat, args.splits, args.out_dir, args.jpg_quality)
    print(f'done: {counts["written"]} pairs written, {counts["skipped"]} already present, in {args.out_dir}')
    return counts


if __name__ == '__main__':
    main()
