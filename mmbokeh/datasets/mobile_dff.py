"""MobileDFFDataset: the aligned focal stacks of Suwajanakorn et al., "Depth from Focus with Your Mobile Phone"
(CVPR 2015). No ground truth: its evaluation is qualitative."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine import fileio

from mmbokeh.registry import DATASETS

from .focal_stack_base import BaseFocalStackDataset

#: scene -> (figure folder under Aligned/, calibration folder under calibration/).
SCENES: Dict[str, Tuple[str, str]] = {
    'keyboard': ('Figure1', 'keyboard'),
    'bottles': ('Figure5', 'bottles'),
    'fruits': ('Figure5', 'fruits'),
    'metals': ('Figure5', 'metal'),
    'plants': ('Figure5', 'plants'),
    'telephone': ('Figure5', 'telephone'),
    'window': ('Figure5', 'window'),
    'zeromotion': ('Figure6', 'GT'),
    'largemotion': ('Figure6', 'GTLarge'),
    'smallmotion': ('Figure6', 'GTSmall'),
    'balls': ('Figure7', 'balls'),
}
#: Focus normalisations: name -> ``focus_units`` recorded with each sample.
FOCUS_NORMS = {
    'dfv': 'dfv_normalised',  # fuy34/DFV eval_mobile_Depth.py: min-max to [0, 1] (or evenly spaced)
    'dered': 'm_dered',  # Ehzoahis/DEReD utils/dataset.py MobileDFD: calibration units / 39.37
    'raw': 'calibration',  # Suwajanakorn's self-calibrated, scale-ambiguous units
}
DERED_DIVISOR = 39.37
EXPECTED = ('  {root}/Aligned/Figure{{1,5,6,7}}/<scene>/a00.jpg, a01.jpg, ...     aligned frames (14 to 33 per scene)\n'
            '  {root}/calibration/<calibration name>/calibrated.txt   one line "focus aperture" per frame, the focal '
            'length alone on the last line\n'
            'from depth_from_focus_data2.zip / depth_from_focus_data3.zip of the Mobile Depth release; scenes: '
            'Figure1 keyboard; Figure5 bottles, fruits, metals (calibration "metal"), plants, telephone, window; '
            'Figure6 zeromotion, largemotion, smallmotion (calibration GT, GTLarge, GTSmall); Figure7 balls.')


def normalise_focus(focus: np.ndarray, scene: str, norm: str) -> Tuple[np.ndarray, np.ndarray]:
    """Focus values of one scene in the chosen normalisation, and the frame order (nearest focus first).

    ``'dfv'`` (fuy34/DFV): 'metals' negated; sorted; evenly spaced in [0, 1] when the largest exceeds ten times the
    smallest or for 'window', else min-max to [0, 1]. ``'dered'`` (Ehzoahis/DEReD): divided by 39.37, 'metals'
    reversed (its calibration runs the other way), then sorted. ``'raw'``: as calibrated, sorted.

    Args:
        focus: (N,) calibrated focus of frame i (calibration units).
        scene: scene name (see :data:`SCENES`).
        norm: 'dfv', 'dered' or 'raw'.

    Returns:
        (values (N,) float32 in frame order, order (N,) int: frame indices sorted by focus).
    """
    focus = np.asarray(focus, np.float64)
    if norm == 'dfv':
        signed = -focus if scene == 'metals' else focus
        order = np.argsort(signed, kind='stable')
        ranked = signed[order]
        if ranked[0] * 10 < ranked[-1] or scene == 'window':
            values = np.linspace(0.0, 1.0, len(ranked))
        else:
            values = (ranked - ranked[0]) / (ranked[-1] - ranked[0])
        return values.astype(np.float32), order
    if norm == 'dered':
        focus = focus / DERED_DIVISOR
        if scene == 'metals':
            focus = focus[::-1]
    elif norm != 'raw':
        raise ValueError(f'focus_norm must be one of {tuple(FOCUS_NORMS)}, got {norm!r}')
    order = np.argsort(focus, kind='stable')
    return focus[order].astype(np.float32), order


def read_calibration(path: str, backend_args: Optional[dict] = None) -> Tuple[np.ndarray, np.ndarray, float]:
    """``calibrated.txt``: (focus (N,), aperture (N,), focal length) in calibration units."""
    try:
        text = fileio.get_text(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(f'Mobile Depth calibration file not found: {path}') from err
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if len(rows) < 2 or len(rows[-1]) != 1 or any(len(r) != 2 for r in rows[:-1]):
        raise ValueError(f'{path}: expected one line "focus aperture" per frame and the focal length alone on the '
                         'last line')
    values = np.array([[float(v) for v in r] for r in rows[:-1]], np.float64)
    return values[:, 0], values[:, 1], float(rows[-1][0])


@DATASETS.register_module()
class MobileDFFDataset(BaseFocalStackDataset):
    """The 11 aligned focal stacks of the Mobile Depth release (``docs/datasets.md``, "Mobile Depth").

    Frames ``Aligned/<Figure>/<scene>/aNN.jpg`` (sorted by NN) pair with the lines of
    ``calibration/<calibration name>/calibrated.txt``; frames are then sorted by focus and, with ``num_frames``, N of
    them picked evenly (``linspace(0, n - 1, N)`` rounded, as DFV). ``focus_dists`` are in the units of
    ``focus_norm`` (recorded as ``focus_units``); the camera is unknown (no ``camera``), the calibrated aperture and
    focal length are kept as ``calib_aperture`` (N,) and ``calib_focal_length``. ``img`` is frame ``ref_frame`` of
    the picked frames (default the middle one). No ground truth: run ``tools/test.py --show-dir`` for depth images.

    Args:
        data_root: folder holding ``Aligned/`` and ``calibration/``.
        scenes: scene names (default all 11, :data:`SCENES`).
        focus_norm: 'dfv', 'dered' or 'raw' (see :func:`normalise_focus`).
        num_frames: frames per stack (None: all).
        ref_frame: see :class:`BaseFocalStackDataset`.
        backend_args: mmengine file backend arguments.
        **kwargs: as mmengine's ``BaseDataset``.
    """

    METAINFO = dict(dataset_name='MobileDepth', layout='suwajanakorn2015')

    def __init__(self, data_root: str = 'data/mobile_depth', scenes: Optional[Sequence[str]] = None,
                 focus_norm: str = 'dfv', num_frames: Optional[int] = None, ref_frame: Optional[int] = None,
                 backend_args: Optional[dict] = None, metainfo: Optional[dict] = None, **kwargs) -> None:
        if focus_norm not in FOCUS_NORMS:
            raise ValueError(f'MobileDFFDataset focus_norm must be one of {tuple(FOCUS_NORMS)}, got {focus_norm!r}')
        unknown = sorted(set(scenes or ()) - set(SCENES))
        if unknown:
            raise ValueError(f'MobileDFFDataset: unknown scenes {unknown}; known: {sorted(SCENES)}')
        if num_frames is not None and num_frames < 2:
            raise ValueError(f'MobileDFFDataset num_frames must be None or >= 2, got {num_frames}')
        self.scenes = list(SCENES) if scenes is None else list(scenes)
        self.focus_norm, self.num_frames = focus_norm, num_frames
        self.focus_units = FOCUS_NORMS[focus_norm]
        self.backend_args = backend_args
        self.split = 'test'
        missing = [p for p in (fileio.join_path(data_root, 'Aligned'), fileio.join_path(data_root, 'calibration'))
                   if not fileio.isdir(p, backend_args=backend_args)]
        if missing:
            raise FileNotFoundError(f'Mobile Depth not found under data_root={data_root!r}: missing {missing}\n'
                                    f'Expected layout:\n{EXPECTED.format(root=data_root)}')
        super().__init__(ref_frame=ref_frame, camera=None, data_root=data_root, metainfo=metainfo, **kwargs)
        self._metainfo.update(focus_units=self.focus_units)  # not through metainfo=: mmengine reads str as files

    def load_data_list(self) -> List[Dict]:
        return self.check_not_empty([self._scene(scene) for scene in self.scenes], self.data_root,
                                    'scenes=[] selects none')

    def _scene(self, scene: str) -> Dict:
        figure, calib = SCENES[scene]
        folder = fileio.join_path(self.data_root, 'Aligned', figure, scene)
        calib_path = fileio.join_path(self.data_root, 'calibration', calib, 'calibrated.txt')
        if not fileio.isdir(folder, backend_args=self.backend_args):
            raise FileNotFoundError(f'Mobile Depth scene {scene!r}: folder not found: {folder}\nExpected layout:\n'
                                    f'{EXPECTED.format(root=self.data_root)}')
        names = [n for n in fileio.list_dir_or_file(folder, list_dir=False, suffix='.jpg',
                                                    backend_args=self.backend_args)
                 if n.startswith('a') and n[1:-4].isdigit()]
        names.sort(key=lambda n: int(n[1:-4]))
        if not names:
            raise FileNotFoundError(f'Mobile Depth scene {scene!r}: no aligned frames aNN.jpg in {folder}')
        focus, aperture, focal = read_calibration(calib_path, self.backend_args)
        if len(focus) != len(names):
            raise ValueError(f'Mobile Depth scene {scene!r}: {len(names)} frames in {folder} but {len(focus)} '
                             f'calibrated focus values in {calib_path}')
        values, order = normalise_focus(focus, scene, self.focus_norm)
        if self.num_frames is not None and len(order) > self.num_frames:
            pick = np.round(np.linspace(0, len(order) - 1, self.num_frames)).astype(int)
            values, order = values[pick], order[pick]
        frames = [fileio.join_path(folder, names[i]) for i in order]
        return self.make_item(frames, values, scene=scene, calib_aperture=aperture[order].astype(np.float32),
                              calib_focal_length=focal)
