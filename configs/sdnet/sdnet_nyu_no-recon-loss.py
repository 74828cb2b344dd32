# Table IV ablation: without the blurred reconstruction loss (eq. 12); the Gaussian branch still gives the initial
# depth (eq. 13).
_base_ = ['./sdnet_nyu.py']
model = dict(defocus_head=dict(loss_recon=None))
work_dir = 'work_dirs/sdnet_nyu_no-recon-loss'
