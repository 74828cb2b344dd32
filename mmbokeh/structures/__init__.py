from .depth_data_sample import DepthDataSample, stack_gt_depth

__all__ = ['DepthDataSample', 'stack_gt_depth']
