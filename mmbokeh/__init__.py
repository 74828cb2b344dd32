"""mmbokeh: defocus as a first-class cue for monocular depth estimation (OpenMMLab plugin)."""
from .utils import file_backend  # noqa: F401  (registers the 'atomic_local' file backend)
from .utils.checkpoint_compat import register_checkpoint_globals
from .version import __version__

register_checkpoint_globals()

__all__ = ['__version__']
