from .l1_loss import L1DepthLoss
from .masking import valid_depth_pixels
from .silog_loss import SiLogLoss

__all__ = ['SiLogLoss', 'L1DepthLoss', 'valid_depth_pixels']
