from .l1_loss import L1DepthLoss
from .masking import valid_depth_pixels
from .mse_loss import MSEDepthLoss
from .silog_loss import SiLogLoss
from .unidepth_losses import UniDepthCameraLoss, UniDepthConfidenceLoss, UniDepthSILogLoss

__all__ = ['SiLogLoss', 'L1DepthLoss', 'valid_depth_pixels', 'MSEDepthLoss', 'UniDepthSILogLoss',
           'UniDepthConfidenceLoss', 'UniDepthCameraLoss']
