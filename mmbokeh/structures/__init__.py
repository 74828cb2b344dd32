from .depth_data_sample import DepthDataSample, stack_gt_depth
from .depth_inputs import CAMERA_FIELDS, FRAME_KEYS, INPUT_KEYS, DepthInputs, as_depth_inputs

__all__ = ['CAMERA_FIELDS', 'DepthDataSample', 'DepthInputs', 'FRAME_KEYS', 'INPUT_KEYS', 'as_depth_inputs',
           'stack_gt_depth']
