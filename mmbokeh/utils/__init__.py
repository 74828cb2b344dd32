from .checkpoint_compat import register_checkpoint_globals
from .io import (
                        IMAGE_SUFFIXES,
                        atomic_path,
                        atomic_torch_save,
                        atomic_write_bytes,
                        list_images,
                        output_stem,
                        output_stems,
)
from .resume import latest_complete_checkpoint
from .setup_env import (
                        amp_fallback_without_cuda,
                        check_load_from,
                        load_tool_config,
                        setup_cpu_distributed,
                        teardown_distributed,
)

__all__ = [
    'IMAGE_SUFFIXES', 'amp_fallback_without_cuda', 'register_checkpoint_globals', 'atomic_path', 'atomic_torch_save',
    'atomic_write_bytes', 'latest_complete_checkpoint', 'list_images', 'output_stems',
    'check_load_from', 'load_tool_config', 'output_stem', 'setup_cpu_distributed', 'teardown_distributed'
]
