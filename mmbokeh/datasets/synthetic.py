"""SyntheticDefocusDataset: procedural indoor scenes with exact metric depth, made on the fly (no files)."""
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from mmbokeh.registry import DATASETS

from .synthetic_scene import render_scene
from .synthetic_textures import KIND_PROBS, check_kind_probs

SPLITS = ('train', 'val', 'test')


@DATASETS.register_module()
class SyntheticDefocusDataset(BaseDataset):
    """Rooms with boxes and spheres rendered by :func:`render_scene`, deterministic in (seed, split, index).

    Item ``i`` of ``split`` renders ``render_scene((seed, SPLITS.index(split), i), img_size, max_depth)``, so the
    splits draw from disjoint seed streams and an index always gives the same scene. Each item starts the pipeline
    with ``img`` ((H, W, 3) uint8 BGR, like a loaded file), ``gt_depth`` ((H, W) float32 metres, all valid),
    ``img_path`` = ``'synthetic://{split}/{i:06d}'``, ``ori_shape``, ``img_shape``, ``focal_length_px`` and
    ``cam_intrinsics``: its pipeline therefore has no loading transforms.

    Args:
        num_samples: number of scenes.
        img_size: (H, W) of the renders.
        seed: base seed.
        split: 'train', 'val' or 'test'.
        max_depth: metres; every depth stays below it (metainfo ``max_depth``).
        kind_probs: probabilities of the surface patterns ('flat', 'checker', 'stripes', 'noise'); None: the
            default mix (a third of the surfaces flat). Depth-from-defocus demos use textured surfaces only.
        pipeline, test_mode, lazy_init, **kwargs: as mmengine's ``BaseDataset``.
    """

    METAINFO = dict(dataset_name='synthetic_rooms', min_depth=1e-3, max_depth=8.0)

    def __init__(self, num_samples: int = 100, img_size: Tuple[int, int] = (224, 224), seed: int = 0,
                 split: str = 'train', max_depth: float = 8.0, kind_probs: Optional[Sequence[float]] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (), test_mode: bool = False, lazy_init: bool = False,
                 metainfo: Optional[dict] = None, **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'SyntheticDefocusDataset split must be one of {SPLITS}, got {split!r}')
        if num_samples < 0:
            raise ValueError(f'SyntheticDefocusDataset num_samples must be >= 0, got {num_samples}')
        if len(img_size) != 2 or min(img_size) < 1:
            raise ValueError(f'SyntheticDefocusDataset img_size must be (H, W) of positive ints, got {img_size}')
        if max_depth < 3:
            raise ValueError(f'SyntheticDefocusDataset max_depth must be >= 3 metres, got {max_depth}')
        self.kind_probs = KIND_PROBS if kind_probs is None else check_kind_probs(
            kind_probs, 'SyntheticDefocusDataset kind_probs')
        self.num_samples = int(num_samples)
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seed = int(seed)
        self.split = split
        self.max_depth = float(max_depth)
        super().__init__(metainfo={'max_depth': self.max_depth, **(metainfo or {})}, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, **kwargs)

    def load_data_list(self) -> List[dict]:
        code = SPLITS.index(self.split)
        return [dict(img_path=f'synthetic://{self.split}/{i:06d}', scene_seed=(self.seed, code, i))
                for i in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        """The raw sample: the data list entry plus the rendered image, depth and camera."""
        info = super().get_data_info(idx)
        img_rgb, depth, intrinsics = render_scene(info['scene_seed'], self.img_size, self.max_depth,
                                                  kind_probs=self.kind_probs)
        info.update(img=img_rgb[..., ::-1].copy(), gt_depth=depth, ori_shape=depth.shape, img_shape=depth.shape,
                    focal_length_px=float(intrinsics[0, 0]), cam_intrinsics=intrinsics)
        return info
