"""NYUv2Dataset: NYU Depth V2 in the mmsegmentation layout or the BTS layout."""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine import fileio
from mmengine.dataset import BaseDataset

from mmbokeh.registry import DATASETS

LAYOUTS = ('mmseg', 'bts')
CONVERTER = 'python tools/dataset_converters/nyu_labeled_mat.py nyu_depth_v2_labeled.mat splits.mat {data_root}'
# Kinect RGB camera of NYU Depth V2 (toolbox camera_params.m), for the 640x480 images.
NYU_INTRINSICS = np.array([[518.8579, 0.0, 325.5824], [0.0, 519.4696, 253.7362], [0.0, 0.0, 1.0]], np.float32)


def _resolve(data_root: str, path: str) -> str:
    return path if (not data_root or osp.isabs(path)) else osp.join(data_root, path)


@DATASETS.register_module()
class NYUv2Dataset(BaseDataset):
    """NYU Depth V2 images with uint16 millimetre depth PNGs.

    Layouts under ``data_root``:

    - ``'mmseg'``: ``images/{split}/*.jpg`` and ``annotations/{split}/*.png`` with the same stems (what
      ``tools/dataset_converters/nyu_labeled_mat.py`` writes from the official labeled .mat: 795 train, 654 test).
    - ``'bts'``: a list file ``ann_file`` (default ``nyudepthv2_{split}_files_with_gt.txt``) whose lines are
      ``rgb_rel depth_rel focal``, paths relative to ``{split}/`` (e.g. ``bathroom/rgb_00045.jpg
      bathroom/sync_depth_00045.png 518.8579``); a ``depth_rel`` of ``None`` gives an item without ground truth.

    Items carry ``img_path``, ``depth_path``, ``depth_scale`` (divisor to metres, read by ``LoadDepth``),
    ``focal_length_px`` and ``cam_intrinsics``. A missing ``data_root`` or layout raises FileNotFoundError at
    construction (also with ``lazy_init``), naming the expected layout and the converter command.

    Args:
        data_root: dataset folder.
        split: 'train' or 'test' (folder names; any name works with ``data_prefix``/``ann_file``).
        layout: 'mmseg' or 'bts'.
        ann_file: BTS list file (ignored for 'mmseg').
        data_prefix: dict(img_path=..., depth_path=...) folders; defaults follow ``layout`` and ``split``.
        depth_scale: stored depth units per metre (1000: millimetres).
        img_suffix, depth_suffix: file suffixes of the mmseg layout.
        **kwargs: as mmengine's ``BaseDataset`` (pipeline, test_mode, lazy_init, indices, ...).
    """

    METAINFO = dict(dataset_name='NYUv2', min_depth=1e-3, max_depth=10.0)

    def __init__(self, data_root: str = 'data/nyu', split: str = 'train', layout: str = 'mmseg',
                 ann_file: str = '', data_prefix: Optional[dict] = None, depth_scale: float = 1000.0,
                 img_suffix: str = '.jpg', depth_suffix: str = '.png', **kwargs) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f'NYUv2Dataset layout must be one of {LAYOUTS}, got {layout!r}')
        self.split, self.layout = split, layout
        self.depth_scale = float(depth_scale)
        self.img_suffix, self.depth_suffix = img_suffix, depth_suffix
        if data_prefix is None:
            data_prefix = (dict(img_path=f'images/{split}', depth_path=f'annotations/{split}') if layout == 'mmseg'
                           else dict(img_path=split, depth_path=split))
        if layout == 'bts' and not ann_file:
            ann_file = f'nyudepthv2_{split}_files_with_gt.txt'
        self._check_layout(data_root, ann_file if layout == 'bts' else '', data_prefix)
        super().__init__(ann_file=ann_file if layout == 'bts' else '', data_root=data_root,
                         data_prefix=data_prefix, **kwargs)

    def _check_layout(self, data_root: str, ann_file: str, data_prefix: dict) -> None:
        """Raise FileNotFoundError naming the expected layout and how to make it, before any lazy loading."""
        needed = [('folder', _resolve(data_root, data_prefix[key])) for key in ('img_path', 'depth_path')]
        if ann_file:
            needed.insert(0, ('list file', _resolve(data_root, ann_file)))
        missing = [(kind, path) for kind, path in needed
                   if not (fileio.isdir(path) if kind == 'folder' else fileio.isfile(path))]
        if not missing:
            return
        command = CONVERTER.format(data_root=data_root or '<data_root>')
        if self.layout == 'mmseg':
            expected = (f'  {data_root}/images/{{train,test}}/*{self.img_suffix}          RGB 640x480\n'
                        f'  {data_root}/annotations/{{train,test}}/*{self.depth_suffix}     uint16 depth in '
                        'millimetres, same file stems as the images\n')
            how = ('Create it from the official labeled set (nyu_depth_v2_labeled.mat and splits.mat, from '
                   'https://cs.nyu.edu/~fergus/datasets/nyu_depth_v2.html) with:\n'
                   f'  {command}')
        else:
            expected = (f'  {data_root}/nyudepthv2_{{train,test}}_files_with_gt.txt   lines "rgb_rel depth_rel '
                        'focal", e.g. "bathroom/rgb_00045.jpg bathroom/sync_depth_00045.png 518.8579"\n'
                        f'  {data_root}/{{train,test}}/<scene>/rgb_%05d.jpg and sync_depth_%05d.png '
                        '(uint16 millimetres)\n')
            how = ('Prepare it as the BTS repository does for NYUv2, or use layout="mmseg" after converting the '
                   f'official labeled set with:\n  {command}')
        lines = '\n'.join(f'  missing {kind}: {path}' for kind, path in missing)
        raise FileNotFoundError(f'NYUv2 (layout={self.layout!r}, split={self.split!r}) not found under data_root='
                                f'{data_root!r}:\n{lines}\nExpected layout:\n{expected}{how}')

    def _item(self, img_path: str, depth_path: Optional[str], focal: float) -> dict:
        intrinsics = NYU_INTRINSICS.copy()
        intrinsics[0, 0] = focal
        info = dict(img_path=img_path, depth_scale=self.depth_scale, focal_length_px=focal,
                    cam_intrinsics=intrinsics)
        if depth_path is not None:
            info['depth_path'] = depth_path
        return info

    def load_data_list(self) -> List[dict]:
        return self._load_mmseg() if self.layout == 'mmseg' else self._load_bts()

    def _load_mmseg(self) -> List[dict]:
        img_dir, depth_dir = self.data_prefix['img_path'], self.data_prefix['depth_path']
        names = sorted(fileio.list_dir_or_file(img_dir, list_dir=False, suffix=self.img_suffix))
        items, missing = [], []
        for name in names:
            depth_path = fileio.join_path(depth_dir, name[:-len(self.img_suffix)] + self.depth_suffix)
            if not fileio.isfile(depth_path):
                missing.append(depth_path)
            items.append(self._item(fileio.join_path(img_dir, name), depth_path, float(NYU_INTRINSICS[0, 0])))
        if missing:
            raise FileNotFoundError(f'NYUv2: {len(missing)} of {len(names)} images in {img_dir} have no depth map, '
                                    f'e.g. {missing[:3]}')
        if not items:
            raise FileNotFoundError(f'NYUv2: no *{self.img_suffix} images in {img_dir}')
        return items

    def _load_bts(self) -> List[dict]:
        items = []
        for number, line in enumerate(fileio.get_text(self.ann_file).splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise ValueError(f'{self.ann_file}:{number}: expected "rgb_rel depth_rel focal", got {line!r}')
            rgb_rel, depth_rel, focal = fields
            try:
                focal = float(focal)
            except ValueError as err:
                raise ValueError(f'{self.ann_file}:{number}: focal length {focal!r} is not a number') from err
            depth_path = (None if depth_rel == 'None'
                          else fileio.join_path(self.data_prefix['depth_path'], depth_rel.lstrip('/')))
            items.append(self._item(fileio.join_path(self.data_prefix['img_path'], rgb_rel.lstrip('/')),
                                    depth_path, focal))
        if not items:
            raise ValueError(f'NYUv2: list file {self.ann_file} has no entries')
        return items
