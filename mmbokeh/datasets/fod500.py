"""FoD500Dataset: DefocusNet's focal stacks (Maximov et al. 2020), as released or as re-rendered by DEReD."""
import re
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmengine import fileio

from mmbokeh.optics import DEFOCUSNET_DERED, FOD500
from mmbokeh.registry import DATASETS

from .focal_stack_base import BaseFocalStackDataset
from .transforms.focal_stack import CameraSpec, check_focus_dists

#: DefocusNet's Blender camera: f 2.9 mm, N 1 (its README), 3.1 mm sensor over 256 px (yfujimura/DDFS,
#: dataset/DefocusNet/compute_cost_volume_scaling.py): 12.1 um, where the ``fod500`` preset rounds to DEReD's 12 um.
DEFOCUSNET_CAMERA = dict(focal_length=FOD500.focal_length, f_number=FOD500.f_number,
                         pixel_size=3.0999999046325684e-3 / 256)

# file names: <scene>_<slice>All.<ext> (frames), <scene>Aif.<ext> (all in focus), <scene>Dpt.<ext> (depth)
_FRAME = re.compile(r'^(?P<scene>.+)_(?P<slice>\d+)All\.(?P<ext>tif|tiff|png)$')
_AIF = re.compile(r'^(?P<scene>.+?)(_\d+)?Aif\.(?P<ext>tif|tiff|png)$')
_DEPTH = re.compile(r'^(?P<scene>.+)Dpt\.(?P<ext>exr|npy)$')

#: Per layout: folder under data_root, file kinds, focus distances (m), camera preset and split rule.
LAYOUTS = {
    'defocusnet': dict(
        folder='', frame_ext=('tif', 'tiff'), aif=False, depth_ext=('exr', ),
        focus_dists=FOD500.focus_distances, camera=DEFOCUSNET_CAMERA, split_rule='scene number < 400 is train',
        expected=('  {root}/{{scene:06d}}_{{slice:02d}}All.tif   five RGB 256x256 frames per scene, focus 0.1, 0.15, '
                  '0.3, 0.7, 1.5 m\n'
                  '  {root}/{{scene:06d}}Dpt.exr             depth in metres, channel R (half float)\n'
                  'as released with dvl-tum/defocus-net (folder data/fs_6); scenes 0-399 train, 400-499 test.')),
    'dered': dict(
        folder='{split}', frame_ext=('png', 'tif', 'tiff'), aif=True, depth_ext=('npy', 'exr'),
        focus_dists=DEFOCUSNET_DERED.focus_distances, camera='defocusnet_dered', split_rule='one folder per split',
        expected=('  {root}/{{train,test}}/<scene>_<slice>All.png   five RGB frames per scene, focus 0.3, 0.45, 0.75, '
                  '1.2, 1.8 m\n'
                  '  {root}/{{train,test}}/<scene>Aif.png           the all-in-focus image\n'
                  '  {root}/{{train,test}}/<scene>Dpt.npy           (H, W, 1) depth in metres\n'
                  'as Ehzoahis/DEReD utils/preprocess_defocusnet.py writes them (.tif / .exr originals are read '
                  'too); DEReD reads one folder, split its 1000 stacks into train/ (500) and test/ (500).')),
}


@DATASETS.register_module()
class FoD500Dataset(BaseFocalStackDataset):
    """Focal stacks of Blender scenes with depth in metres, two layouts (``docs/datasets.md``, "FoD500").

    - ``'defocusnet'``: the public release of dvl-tum/defocus-net (``fs_6``): one folder, five frames
      ``{scene:06d}_{slice:02d}All.tif`` (256x256 RGB, slice k focused at ``focus_dists[k]``) and
      ``{scene:06d}Dpt.exr`` (metres, R channel, half float) per scene; no all-in-focus image, so ``img`` is frame
      ``ref_frame`` (default the middle one, 0.3 m). Scenes below ``train_scenes`` (400) are 'train', the rest
      'test' (DFV, AiFDepthNet). Camera ``DEFOCUSNET_CAMERA``: f 2.9 mm, N 1, 3.1 mm sensor over 256 px.
    - ``'dered'``: DEReD's re-rendered set (another dataset: 1000 stacks with all-in-focus images, focus 0.3, 0.45,
      0.75, 1.2, 1.8 m, f 7.2 mm, N 1.2, pixel 5.6 um): ``{split}/<scene>_<slice>All.png``, ``<scene>Aif.png``,
      ``<scene>Dpt.npy`` (as DEReD's preprocessing writes them; the .tif/.exr originals are accepted), ``img`` is
      the all-in-focus image. DEReD clips the depth to [0.1, 3] m (``LoadDepth(clip_range=(0.1, 3))``).

    Frames of a scene are grouped by scene name, so a missing frame, depth or all-in-focus file raises
    FileNotFoundError naming it; a folder without stacks raises naming the expected layout.

    Args:
        data_root: dataset folder (``fs_6`` for 'defocusnet'; the folder holding ``train/`` and ``test/`` for
            'dered').
        split: 'train' or 'test' ('val' is 'test').
        layout: 'defocusnet' or 'dered'.
        focus_dists: metres per slice; None: the layout's.
        camera: preset name / dict; None: the layout's preset.
        num_frames: frames per stack (5).
        train_scenes: 'defocusnet' split: scene numbers below it are 'train'.
        ref_frame: see :class:`BaseFocalStackDataset`.
        **kwargs: as mmengine's ``BaseDataset`` (pipeline, test_mode, data_prefix=dict(img_path=folder), ...).
    """

    METAINFO = dict(dataset_name='FoD500', min_depth=0.1, max_depth=3.0)

    def __init__(self, data_root: str = 'data/fod500', split: str = 'train', layout: str = 'defocusnet',
                 focus_dists: Optional[Sequence[float]] = None, camera: Optional[CameraSpec] = None,
                 num_frames: int = 5, train_scenes: int = 400, ref_frame: Optional[int] = None,
                 data_prefix: Optional[dict] = None, metainfo: Optional[dict] = None, **kwargs) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f'FoD500Dataset layout must be one of {tuple(LAYOUTS)}, got {layout!r}')
        if split not in ('train', 'val', 'test'):
            raise ValueError(f"FoD500Dataset split must be 'train', 'val' or 'test', got {split!r}")
        self.layout, self.split = layout, split
        self.spec = LAYOUTS[layout]
        self.num_frames = int(num_frames)
        focus_dists = self.spec['focus_dists'] if focus_dists is None else focus_dists
        self.focus = tuple(float(f) for f in check_focus_dists(
            focus_dists, self.spec['camera'] if camera is None else camera, 'FoD500Dataset'))
        if len(self.focus) != self.num_frames:
            raise ValueError(f'FoD500Dataset focus_dists must have one focus distance per frame, num_frames='
                             f'{self.num_frames}; got {len(self.focus)}: {list(focus_dists)!r}')
        self.train_scenes = int(train_scenes)
        folder = self.spec['folder'].format(split='test' if split == 'val' else split)
        data_prefix = dict(img_path=folder) if data_prefix is None else data_prefix
        self._check_folder(fileio.join_path(data_root, data_prefix['img_path']) if data_prefix['img_path']
                           else data_root, data_root)
        super().__init__(ref_frame=ref_frame, camera=self.spec['camera'] if camera is None else camera,
                         data_root=data_root, data_prefix=data_prefix, metainfo=metainfo, **kwargs)
        self._metainfo.update(layout=layout, focus_units='m')  # not through metainfo=: mmengine reads str as files

    def _expected(self, data_root: str) -> str:
        return self.spec['expected'].format(root=data_root or '<data_root>')

    def _check_folder(self, folder: str, data_root: str) -> None:
        if not fileio.isdir(folder):
            raise FileNotFoundError(f'FoD500 (layout={self.layout!r}, split={self.split!r}): folder not found: '
                                    f'{folder}\nExpected layout:\n{self._expected(data_root)}')

    def load_data_list(self) -> List[Dict]:
        folder = self.data_prefix['img_path']
        names = sorted(fileio.list_dir_or_file(folder, list_dir=False))
        frames: Dict[str, Dict[int, str]] = defaultdict(dict)
        aifs, depths = {}, {}
        for name in names:
            for pattern, exts, table in ((_FRAME, self.spec['frame_ext'], None),
                                         (_AIF, self.spec['frame_ext'] if self.spec['aif'] else (), aifs),
                                         (_DEPTH, self.spec['depth_ext'], depths)):
                match = pattern.match(name)
                if match and match['ext'] in exts:
                    if table is None:
                        frames[match['scene']][int(match['slice'])] = name
                    else:
                        table[match['scene']] = name
                    break
        if not depths and not frames:
            shown = ', '.join(names[:5]) or 'nothing'
            raise FileNotFoundError(f'FoD500 (layout={self.layout!r}): no focal stacks in {folder} (it holds '
                                    f'{shown}{", ..." if len(names) > 5 else ""})\nExpected layout:\n'
                                    f'{self._expected(self.data_root)}')
        items = []
        for scene in sorted(set(frames) | set(depths)):
            if not self._in_split(scene, folder):
                continue
            slices = frames.get(scene, {})
            ext = self.spec['frame_ext'][0]
            missing = [f'{scene}_{k:02d}All.{ext}' for k in range(self.num_frames) if k not in slices]
            if scene not in depths:
                missing.append(f'{scene}Dpt.{self.spec["depth_ext"][0]}')
            if self.spec['aif'] and scene not in aifs:
                missing.append(f'{scene}Aif.{ext}')
            if missing or sorted(slices) != list(range(self.num_frames)):
                extra = sorted(set(slices) - set(range(self.num_frames)))
                raise FileNotFoundError(
                    f'FoD500 (layout={self.layout!r}): scene {scene} in {folder} is incomplete: missing '
                    f'{[fileio.join_path(folder, m) for m in missing]}'
                    f'{f", unexpected slices {extra}" if extra else ""}\nExpected layout:\n'
                    f'{self._expected(self.data_root)}')
            join = lambda name: fileio.join_path(folder, name)  # noqa: E731
            items.append(self.make_item([join(slices[k]) for k in range(self.num_frames)], self.focus,
                                        aif_path=join(aifs[scene]) if scene in aifs else None,
                                        depth_path=join(depths[scene]), scene=scene, depth_scale=1.0))
        return self.check_not_empty(items, folder, self.spec['split_rule'] if self.layout == 'dered' else
                                    f'scenes {"<" if self.split == "train" else ">="} {self.train_scenes}')

    def _in_split(self, scene: str, folder: str) -> bool:
        """'dered': every stack of the split's folder; 'defocusnet': by scene number."""
        if self.layout == 'dered':
            return True
        if not scene.isdigit():
            raise ValueError(f"FoD500 (layout='defocusnet'): scene name {scene!r} in {folder} is not a number; "
                             f'expected layout:\n{self._expected(self.data_root)}')
        return (int(scene) < self.train_scenes) == (self.split == 'train')
