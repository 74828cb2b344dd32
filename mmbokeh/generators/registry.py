"""Registry of the Stage-1 stack backends (``physical``, ``cached``, ``diffusion``) and their builder."""
from typing import Any, Union

from mmengine.registry import Registry

#: Backends register under a short name; ``build_backend(dict(type='physical', ...))`` builds one.
BACKENDS = Registry('bokeh stack backend', scope='mmbokeh', locations=['mmbokeh.generators'])


def build_backend(cfg: Union[str, dict, Any]) -> Any:
    """Build a backend from a name (``'physical'``), a config dict (``dict(type='cached', root=...)``) or return an
    already built backend unchanged."""
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    if isinstance(cfg, dict):
        if 'type' not in cfg:
            raise KeyError(f'bokeh stack backend config needs a "type" (one of {sorted(BACKENDS.module_dict)}), '
                           f'got {cfg}')
        if cfg['type'] not in BACKENDS.module_dict:
            raise KeyError(f'unknown bokeh stack backend {cfg["type"]!r}; registered: {sorted(BACKENDS.module_dict)}')
        return BACKENDS.build(cfg)
    if hasattr(cfg, 'render'):
        return cfg
    raise TypeError(f'backend must be a name, a config dict or a backend object, got {type(cfg).__name__}')
