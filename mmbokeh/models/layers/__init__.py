from .attention import MultiHeadSelfAttention
from .divided_space_focus_block import DividedSpaceFocusBlock

__all__ = ['MultiHeadSelfAttention', 'DividedSpaceFocusBlock']
