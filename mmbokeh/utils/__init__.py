from .checkpoint_compat import register_checkpoint_globals
from .io import atomic_path, atomic_torch_save

__all__ = ['register_checkpoint_globals', 'atomic_path', 'atomic_torch_save']
from .setup_env import check_load_from, setup_cpu_distributed

__all__ += ['check_load_from', 'setup_cpu_distributed']
