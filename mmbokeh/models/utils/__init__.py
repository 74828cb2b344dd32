from .ckpt_convert import convert_dav2, encoder_arch, unwrap_state_dict

__all__ = ['convert_dav2', 'encoder_arch', 'unwrap_state_dict']
