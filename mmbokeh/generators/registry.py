"""Builder of the Stage-1 stack backends; they register in :data:`mmbokeh.registry.BOKEH_BACKENDS`."""
from typing import Union

from mmbokeh.registry import BOKEH_BACKENDS

from .base import BokehBackend


def build_backend(cfg: Union[str, dict, BokehBackend]) -> BokehBackend:
    """A backend from a name (``'physical'``), a config dict (``dict(type='cached', root=...)``), or a built
    :class:`BokehBackend` returned unchanged."""
    if isinstance(cfg, BokehBackend):
        return cfg
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f'backend must be a name, a config dict or a BokehBackend, got {type(cfg).__name__}')
    if 'type' not in cfg:
        BOKEH_BACKENDS.import_from_location()
        raise KeyError(f'bokeh stack backend config needs a "type" (one of {sorted(BOKEH_BACKENDS.module_dict)}), '
                       f'got {cfg}')
    backend = BOKEH_BACKENDS.build(cfg)
    if not isinstance(backend, BokehBackend):
        raise TypeError(f'{cfg["type"]!r} built a {type(backend).__name__}, not a BokehBackend')
    return backend


__all__ = ['build_backend']
