# Table V ablation, "without Siamese": a single MPViT branch predicts the defocus map from one frame (no fusion
# across frames, no defocus loss); DepthNet unchanged.
_base_ = ['./sdnet_nyu.py']
model = dict(num_views=1, neck=None, defocus_head=dict(loss_defocus=None))
work_dir = 'work_dirs/sdnet_nyu_no-siamese'
