from .ckpt_convert import convert_bokehdepth, convert_dav2, encoder_arch, fused_taps, unwrap_state_dict

__all__ = ['convert_bokehdepth', 'convert_dav2', 'encoder_arch', 'fused_taps', 'unwrap_state_dict']
from .interfaces import StackFusionNeck, TapBackbone, build_stack_neck, check_part

__all__ += ['StackFusionNeck', 'TapBackbone', 'build_stack_neck', 'check_part']
