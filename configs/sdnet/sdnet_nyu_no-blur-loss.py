# Table IV ablation: without the blur loss (eq. 6).
_base_ = ['./sdnet_nyu.py']
model = dict(defocus_head=dict(loss_blur=None))
work_dir = 'work_dirs/sdnet_nyu_no-blur-loss'
