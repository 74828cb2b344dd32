"""The focal-stack sample convention shared by FoD500, Mobile Depth and the rendered stacks.

An item of a focal-stack dataset (before the pipeline) holds:

- ``focal_stack_paths``: S frame files, sorted by focus distance (nearest first);
- ``focus_dists``: (S,) float32, metres unless ``focus_units`` says otherwise (Mobile Depth);
- ``focus_units``: ``'m'`` or the normalisation applied (recorded in the metainfo too);
- ``img_path`` and ``img_frame``: the all-in-focus image when the dataset has one (``img_frame`` None), else the
  frame ``img_frame`` (``ref_frame`` option); ``img_source`` is ``'aif'`` or ``'frame:<i>'``;
- ``camera``: dict ``focal_length`` (m), ``f_number``, ``pixel_size`` (m) where known, so the CoC of any depth
  follows from :mod:`mmbokeh.optics`;
- ``depth_path`` where the dataset has ground truth.

``LoadFocalStack`` turns it into ``img`` (H, W, 3), ``focal_stack`` (S, H, W, 3); ``LoadDepth`` reads the depth.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from .transforms.focal_stack import CameraSpec, camera_dict
from .transforms.keys import DEFAULT_META_KEYS

#: Meta keys for ``PackDepthInputs(meta_keys=...)`` in focal-stack configs.
FOCAL_STACK_META_KEYS = DEFAULT_META_KEYS + ('img_source', 'focus_units', 'scene', 'focal_stack_source')


class BaseFocalStackDataset(BaseDataset):
    """Items in the focal-stack convention above; subclasses list the stacks in ``load_data_list``.

    Args:
        ref_frame: which frame becomes ``img``: None takes the all-in-focus image where the dataset has one, else
            the middle frame (S // 2); an int takes that frame (negative counts from the end) even when an
            all-in-focus image exists.
        camera: preset name, preset or dict of the camera (None: unknown).
        **kwargs: as mmengine's ``BaseDataset``.
    """

    focus_units = 'm'

    def __init__(self, ref_frame: Optional[int] = None, camera: Optional[CameraSpec] = None, **kwargs) -> None:
        if ref_frame is not None and (isinstance(ref_frame, bool) or not isinstance(ref_frame, int)):
            raise TypeError(f'{type(self).__name__} ref_frame must be None or an int, got {ref_frame!r}')
        self.ref_frame = ref_frame
        self.camera = camera_dict(camera)
        super().__init__(**kwargs)

    def make_item(self, frame_paths: Sequence[str], focus_dists: Sequence[float], aif_path: Optional[str] = None,
                  depth_path: Optional[str] = None, **extra) -> Dict:
        """One data-list entry in the convention above; ``extra`` keys are copied as they are."""
        frames = len(frame_paths)
        if len(focus_dists) != frames:
            raise ValueError(f'{type(self).__name__}: {len(focus_dists)} focus distances for {frames} frames '
                             f'({frame_paths[0] if frames else "no frames"})')
        item = dict(focal_stack_paths=list(frame_paths), focus_dists=np.asarray(focus_dists, np.float32),
                    focus_units=self.focus_units, **extra)
        if aif_path is not None and self.ref_frame is None:
            item.update(img_path=aif_path, img_frame=None, img_source='aif')
        else:
            index = frames // 2 if self.ref_frame is None else self.ref_frame
            if not -frames <= index < frames:
                raise ValueError(f'{type(self).__name__}: ref_frame={self.ref_frame} is outside a stack of {frames} '
                                 'frames')
            index %= frames
            item.update(img_path=frame_paths[index], img_frame=index, img_source=f'frame:{index}')
        if self.camera is not None:
            item['camera'] = dict(self.camera)
        if depth_path is not None:
            item['depth_path'] = depth_path
        return item

    def check_not_empty(self, items: List[Dict], where: str, how: str) -> List[Dict]:
        """Return ``items``; raise ValueError naming the split, the folder and the rule when there are none."""
        if not items:
            raise ValueError(f'{type(self).__name__}: split {getattr(self, "split", None)!r} is empty: no stacks '
                             f'in {where} ({how})')
        return items
