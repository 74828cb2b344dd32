# UniDepthV2-L (official UniDepth/configs/config_v2_vitl14_DSFA_inference.json without its DSFA blocks): DINOv2
# ViT-L (timm) tapped after blocks 6, 12, 18, 24 with class tokens, camera module, camera-prompted depth decoder.
# Inputs: ImageNet-normalised RGB, sides multiples of 14; the official model expects W / H in [0.5, 2.5] and
# 200k-600k pixels (model.infer() applies that rule to raw images; see docs/unidepth.md).
model = dict(
    type='UniDepthV2',
    data_preprocessor=dict(
        type='DepthDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=14,
        pad_value=0),
    backbone=dict(type='UniDepthDINOv2', arch='l', final_norm_eps=1e-5, frozen_patch_embed=True, with_cp=False),
    decode_head=dict(type='UniDepthV2Head', hidden_dim=512, num_heads=8, expansion=4, layer_scale=1.0,
                     depths=[2, 2, 2], out_dim=64, kernel_size=3,
                     loss_decode=dict(type='UniDepthSILogLoss', integrated=0.15, loss_weight=1.0)),
    train_cfg=dict(min_depth=1e-3, max_depth=80.0, use_gt_camera=True),
    test_cfg=dict(resize_to_ori=True, use_gt_camera=True))
