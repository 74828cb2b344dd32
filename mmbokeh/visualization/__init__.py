from .colorize import colorize_depth, colorize_values
from .local_visualizer import DepthLocalVisualizer, depth_sample_layout
from .stack_grid import make_stack_grid

__all__ = ['colorize_depth', 'colorize_values', 'make_stack_grid', 'DepthLocalVisualizer', 'depth_sample_layout']
