from .inference import inference_model, init_model
from .stack_sensitivity import STACK_MODES, replace_stacks, stack_sensitivity

__all__ = ['STACK_MODES', 'inference_model', 'init_model', 'replace_stacks', 'stack_sensitivity']
