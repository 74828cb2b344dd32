from .dpt_head import DPT_SETTINGS, DPTHead

__all__ = ['DPTHead', 'DPT_SETTINGS']
