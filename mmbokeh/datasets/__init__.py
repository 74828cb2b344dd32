"""Datasets of mmbokeh (registered in ``mmbokeh.registry.DATASETS``) and their transforms."""
from . import transforms  # noqa: F401  (registers the transforms)
from .nyu import NYUv2Dataset
from .synthetic import SyntheticDefocusDataset
from .synthetic_scene import render_scene, save_scene_previews
from .transforms import (LoadDepth, LoadImage, PackDepthInputs, RandomCrop, RandomFlip,  # noqa: F401
                         ResizeToMultiple)

__all__ = [
    'NYUv2Dataset', 'SyntheticDefocusDataset', 'render_scene', 'save_scene_previews',
    'LoadImage', 'LoadDepth', 'RandomCrop', 'RandomFlip', 'ResizeToMultiple', 'PackDepthInputs'
]
