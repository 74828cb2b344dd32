from .checkpoint_compat import register_checkpoint_globals
from .io import atomic_path, atomic_torch_save, atomic_write_bytes, output_stem
from .setup_env import (
                        amp_fallback_without_cuda,
                        check_load_from,
                        load_tool_config,
                        setup_cpu_distributed,
                        teardown_distributed,
)

__all__ = [
    'amp_fallback_without_cuda', 'register_checkpoint_globals', 'atomic_path', 'atomic_torch_save',
    'atomic_write_bytes',
    'check_load_from', 'load_tool_config', 'output_stem', 'setup_cpu_distributed', 'teardown_distributed'
]
