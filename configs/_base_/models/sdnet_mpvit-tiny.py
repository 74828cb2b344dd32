# SDNet (Zhang et al., "Depth Estimation Based on 3D Gaussian Splatting Siamese Defocus"): a Siamese MPViT encoder
# shared by two differently focused frames, layer-wise max pooling across the frames, a defocus head (defocus map +
# signed CoC map), a Gaussian-splat depth-of-field branch that renders the frames with the predicted CoC, and a
# residual DepthNet (ResNet + dense ASPP + self-attention). Loss weights (the paper gives none) are in docs/sdnet.md.
model = dict(
    type='SDNet',
    data_preprocessor=dict(type='DepthDataPreprocessor', pad_size_divisor=32),
    backbone=dict(type='MPViT', arch='tiny', drop_path_rate=0.0),
    neck=dict(type='ViewMaxPoolFusion'),
    defocus_head=dict(
        type='DefocusHead',
        channels=64,
        max_coc_px=16.0,
        loss_defocus=dict(type='SiameseDefocusLoss', patch_size=8, loss_weight=0.1),  # eq. 5, mu1
        loss_blur=dict(type='BlurLoss', beta=0.01),  # eq. 6, beta = mu2 = 0.01 (the paper's beta)
        loss_recon=dict(type='ReconstructionLoss', alpha=0.85, loss_weight=1.0),  # eq. 12, mu3
        loss_smooth=dict(type='EdgeAwareSmoothnessLoss', loss_weight=0.01)),  # eq. 16 on the defocus maps
    splat=dict(type='GaussianDoFRenderer', stride=2),
    depth_net=dict(
        type='DepthNet',
        encoder=dict(type='TimmFeatures', model_name='resnet18'),
        depth_scale=10.0,
        loss_decode=dict(type='L1DepthLoss', loss_name='loss_res'),  # eq. 15
        loss_smooth=dict(type='EdgeAwareSmoothnessLoss', loss_weight=1e-3, loss_name='loss_depth_smooth')),
    num_views=2,
    train_cfg=dict(min_depth=0.1, max_depth=10.0),
    test_cfg=dict(view=None))
