"""Stage-1 bokeh stack generators: backends behind one interface (:class:`BokehBackend`, one ``render`` of a
:class:`StackRequest`), registered in :data:`mmbokeh.registry.BOKEH_BACKENDS`, the K selection and the on-disk cache.

- ``physical``: depth -> signed defocus (:mod:`mmbokeh.optics`) -> :func:`mmbokeh.ops.splat_bokeh`;
- ``cached``: stacks made offline, in the official BokehDepth layout (:mod:`.stack_cache`);
- ``diffusion``: FLUX.1-Kontext + the official bokeh adapter (:mod:`.diffusion`, needs ``mmbokeh[diffusion]``).

The data transform using them is ``mmbokeh.datasets.transforms.BokehStackGenerator``.
"""
from .base import BokehBackend, RenderedStack, StackRequest
from .cached import CachedBackend
from .diffusion import BokehFluxAdapter, DiffusionBackend
from .focus import FOCUS_MODES, focus_description, foreground_disparity, parse_focus, select_focus
from .k_selection import KSelection
from .physical import PhysicalBackend
from .registry import build_backend
from .stack_cache import (
    INDEX_NAME,
    MANIFEST_NAME,
    STACK_DIR,
    is_complete,
    is_temporary,
    iter_stack_indices,
    read_frames,
    read_stack_index,
    remove_temporaries,
    sample_key,
    stack_dir,
    write_manifest,
    write_stack,
)

__all__ = [
    'BokehBackend', 'BokehFluxAdapter', 'CachedBackend', 'DiffusionBackend', 'FOCUS_MODES',
    'INDEX_NAME', 'KSelection', 'MANIFEST_NAME', 'PhysicalBackend', 'RenderedStack', 'STACK_DIR', 'StackRequest',
    'build_backend', 'focus_description', 'foreground_disparity', 'is_complete', 'is_temporary',
    'iter_stack_indices', 'parse_focus', 'read_frames', 'read_stack_index', 'remove_temporaries', 'sample_key',
    'select_focus', 'stack_dir', 'write_manifest', 'write_stack'
]
