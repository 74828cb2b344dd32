# Table IV ablation: a triplet loss instead of the defocus loss (eq. 5); the negative is the other frame's patch at
# the next patch position (docs/sdnet.md).
_base_ = ['./sdnet_nyu.py']
model = dict(defocus_head=dict(loss_defocus=dict(_delete_=True, type='TripletDefocusLoss', patch_size=8, margin=0.2,
                                                 loss_weight=0.1)))
work_dir = 'work_dirs/sdnet_nyu_triplet'
