from .colorize import colorize_depth
from .local_visualizer import DepthLocalVisualizer
from .stack_grid import make_stack_grid

__all__ = ['colorize_depth', 'make_stack_grid', 'DepthLocalVisualizer']
