"""Datasets of mmbokeh (registered in ``mmbokeh.registry.DATASETS``) and their transforms."""
from . import transforms  # noqa: F401  (registers the transforms)
from .fault_tolerant import FaultTolerantDataset, SampleError
from .focal_stack_base import FOCAL_STACK_META_KEYS, BaseFocalStackDataset
from .fod500 import FoD500Dataset
from .mobile_dff import MobileDFFDataset
from .nyu import NYUv2Dataset
from .synthetic import SyntheticDefocusDataset
from .synthetic_scene import render_scene, save_scene_previews
from .transforms import (  # noqa: F401
                         LoadDepth,
                         LoadFocalStack,
                         LoadImage,
                         PackDepthInputs,
                         RandomCrop,
                         RandomFlip,
                         RenderFocalStack,
                         ResizeToMultiple,
)

__all__ = [
    'FaultTolerantDataset', 'SampleError',
    'NYUv2Dataset', 'SyntheticDefocusDataset', 'FoD500Dataset', 'MobileDFFDataset', 'BaseFocalStackDataset',
    'FOCAL_STACK_META_KEYS', 'render_scene', 'save_scene_previews', 'LoadImage', 'LoadDepth', 'LoadFocalStack',
    'RenderFocalStack', 'RandomCrop', 'RandomFlip', 'ResizeToMultiple', 'PackDepthInputs'
]
