"""DefocusHead: output ranges and sizes, and eq. 14 assembled from the configured losses (values by hand)."""
import math

import pytest
import torch

from mmbokeh.models.heads import DefocusHead


def small_head(**kwargs):
    kwargs = {'in_channels': [8, 16], 'channels': 8, 'max_coc_px': 4.0, 'loss_defocus': None, 'loss_blur': None,
              'loss_recon': None, 'loss_smooth': None, **kwargs}
    return DefocusHead(**kwargs)


def test_outputs_are_bounded_maps_at_the_requested_size():
    head = small_head().eval()  # eval: BN of a 1x1 level in a batch of one
    with torch.no_grad():
        out = head([torch.randn(3, 8, 6, 7), torch.randn(3, 16, 3, 4)], (21, 27))
    assert out['defocus'].shape == out['coc'].shape == (3, 1, 21, 27)
    assert 0 <= float(out['defocus'].min()) and float(out['defocus'].max()) <= 1
    assert float(out['coc'].abs().max()) <= 4.0
    with torch.no_grad():  # a huge logit saturates at +-max_coc_px
        head.coc_out.bias.fill_(1e4)
        saturated = head([torch.randn(1, 8, 2, 2), torch.randn(1, 16, 1, 1)], (4, 4))['coc']
    assert torch.allclose(saturated, torch.full((1, 1, 4, 4), 4.0))


def test_defocus_target_is_normalised_blur():
    head = small_head(max_coc_px=8.0, coc_norm_px=2.0)
    assert torch.equal(head.defocus_target(torch.tensor([-1.0, 0.5, 3.0])), torch.tensor([0.5, 0.25, 1.0]))


def test_losses_by_hand():
    head = small_head(loss_defocus=dict(type='mmbokeh.SiameseDefocusLoss', patch_size=1, loss_weight=1.0),
                      loss_recon=dict(type='mmbokeh.ReconstructionLoss', alpha=0.0, window_size=3),
                      coc_sup_weight=2.0)
    # B = 1, V = 3 views of 1x2 pixels; defocus pixels as vectors of one channel: cos = sign products
    defocus = torch.tensor([[1.0, 1.0], [1.0, -1.0], [1.0, -1.0]]).reshape(1, 3, 1, 1, 2)
    coc = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]).reshape(1, 3, 1, 1, 2)
    views = torch.zeros(1, 3, 3, 2, 2)
    out = dict(defocus=defocus.expand(1, 3, 1, 2, 2), coc=coc.expand(1, 3, 1, 2, 2))
    rendered = torch.full_like(views, 0.25)
    gt_coc = torch.ones(1, 3, 1, 2, 2)
    valid = torch.tensor([[True, False], [True, False]]).reshape(1, 1, 1, 2, 2)
    losses = head.loss_by_feat(out, views, rendered, gt_coc, valid)
    # consecutive pairs (0,1): cos per pixel +1, -1 -> mean 0; (1,2): +1, +1 -> 1; loss -(0 + 1) / 2
    assert math.isclose(float(losses['loss_defocus']), -0.5, abs_tol=1e-6)
    # alpha 0: plain L1 of 0.25
    assert math.isclose(float(losses['loss_recon']), 0.25, abs_tol=1e-6)
    # valid column 0: |0 - 1|, |2 - 1|, |0 - 1| over two rows -> mean 1, weight 2
    assert math.isclose(float(losses['loss_coc']), 2.0, abs_tol=1e-6)
    assert set(losses) == {'loss_defocus', 'loss_recon', 'loss_coc'}


def test_defocus_map_supervision_by_hand():
    head = small_head(max_coc_px=8.0, coc_norm_px=2.0, defocus_sup_weight=3.0)
    assert head.needs_gt_coc and not small_head().needs_gt_coc
    # one view of 1x3 pixels; gt CoC -1, 0.5, 5 px -> targets 0.5, 0.25, 1 (clipped); the third pixel is invalid
    defocus = torch.tensor([0.5, 0.75, 0.0]).reshape(1, 1, 1, 1, 3)
    gt_coc = torch.tensor([-1.0, 0.5, 5.0]).reshape(1, 1, 1, 1, 3)
    valid = torch.tensor([True, True, False]).reshape(1, 1, 1, 1, 3)
    out = dict(defocus=defocus, coc=torch.zeros_like(defocus))
    losses = head.loss_by_feat(out, torch.zeros(1, 1, 3, 1, 3), None, gt_coc, valid)
    # |0.5 - 0.5| and |0.75 - 0.25| over the two valid pixels: mean 0.25, weight 3
    assert set(losses) == {'loss_defocus_sup'} and math.isclose(float(losses['loss_defocus_sup']), 0.75, abs_tol=1e-6)
    with pytest.raises(ValueError, match='defocus_sup_weight'):
        small_head(defocus_sup_weight=-0.5)


def test_single_view_has_no_defocus_loss_and_none_disables_a_term():
    head = small_head(loss_defocus=dict(type='mmbokeh.SiameseDefocusLoss', patch_size=1),
                      loss_blur=dict(type='mmbokeh.BlurLoss'))
    out = dict(defocus=torch.rand(2, 1, 1, 8, 8), coc=torch.zeros(2, 1, 1, 8, 8))
    losses = head.loss_by_feat(out, torch.rand(2, 1, 3, 8, 8), rendered=None)
    assert losses == {}
    losses = head.loss_by_feat(out, torch.rand(2, 1, 3, 8, 8), rendered=torch.rand(2, 1, 3, 8, 8))
    assert set(losses) == {'loss_blur'} and torch.isfinite(losses['loss_blur'])


def test_bad_arguments():
    with pytest.raises(ValueError, match='max_coc_px'):
        small_head(max_coc_px=0)
    with pytest.raises(ValueError, match='coc_sup_weight'):
        small_head(coc_sup_weight=-1)
    with pytest.raises(ValueError, match='feature levels'):
        small_head()([torch.randn(1, 8, 2, 2)], (4, 4))
