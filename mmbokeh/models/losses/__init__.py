from .blur_loss import BlurLoss
from .defocus_loss import SiameseDefocusLoss, TripletDefocusLoss
from .l1_loss import L1DepthLoss
from .masking import valid_depth_pixels
from .mse_loss import MSEDepthLoss
from .reconstruction_loss import ReconstructionLoss
from .silog_loss import SiLogLoss
from .smoothness_loss import EdgeAwareSmoothnessLoss
from .unidepth_losses import UniDepthCameraLoss, UniDepthConfidenceLoss, UniDepthSILogLoss

__all__ = ['SiLogLoss', 'L1DepthLoss', 'valid_depth_pixels', 'MSEDepthLoss', 'UniDepthSILogLoss',
           'UniDepthConfidenceLoss', 'UniDepthCameraLoss', 'SiameseDefocusLoss', 'TripletDefocusLoss', 'BlurLoss',
           'EdgeAwareSmoothnessLoss', 'ReconstructionLoss']
