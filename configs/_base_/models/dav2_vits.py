# Depth Anything V2 ViT-S (metric head): DINOv2 encoder (timm) + DPT decoder, SiLog loss.
model = dict(
    type='BokehDepthEstimator',
    data_preprocessor=dict(
        type='DepthDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=14,
        pad_value=0),
    backbone=dict(type='DINOv2', arch='s', with_cp=False),
    decode_head=dict(type='DPTHead', in_channels=384, features=64, out_channels=[48, 96, 192, 384], depth_type='metric',
                     max_depth=20.0, loss_decode=dict(type='SiLogLoss', lambd=0.5)),
    train_cfg=dict(min_depth=1e-3),
    test_cfg=dict(resize_to_ori=True))
