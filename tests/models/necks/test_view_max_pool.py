"""ViewMaxPoolFusion: each view sees the max over the views of its sample, and nothing from other samples."""
import pytest
import torch

from mmbokeh.models.necks import ViewMaxPoolFusion


def test_fuses_with_the_max_over_the_views_of_each_sample():
    torch.manual_seed(0)
    neck = ViewMaxPoolFusion([4, 6], norm_cfg=None, act_cfg=None).eval()
    feats = [torch.randn(2 * 3, 4, 5, 5), torch.randn(2 * 3, 6, 3, 3)]  # B = 2 samples, V = 3 views
    out = neck(feats, num_views=3)
    assert [o.shape for o in out] == [f.shape for f in feats]
    # the 1x1 conv on cat(f_v, max_u f_u), by hand for level 0, sample 1, view 2
    f = feats[0].unflatten(0, (2, 3))
    conv = neck.fuse[0].conv
    manual = torch.einsum('oc,chw->ohw', conv.weight[:, :, 0, 0], torch.cat([f[1, 2], f[1].amax(0)])) \
        + conv.bias[:, None, None]
    torch.testing.assert_close(out[0][5], manual)
    # changing sample 0 leaves sample 1's outputs untouched
    feats2 = [feats[0].clone(), feats[1]]
    feats2[0][:3] += 10
    assert torch.equal(neck(feats2, 3)[0][3:], out[0][3:])


def test_one_view_is_its_own_global_feature():
    neck = ViewMaxPoolFusion([3], norm_cfg=None, act_cfg=None)
    x = torch.randn(2, 3, 4, 4)
    w = neck.fuse[0].conv.weight[:, :, 0, 0]
    expected = torch.einsum('oc,bchw->bohw', w[:, :3] + w[:, 3:], x) + neck.fuse[0].conv.bias[:, None, None]
    torch.testing.assert_close(neck([x], 1)[0], expected)


def test_view_dropout_trains_some_samples_unfused_and_never_changes_eval():
    torch.manual_seed(0)
    neck = ViewMaxPoolFusion([4, 6], view_dropout=0.5, norm_cfg=None, act_cfg=None)
    feats = [torch.randn(8 * 2, 4, 3, 3), torch.randn(8 * 2, 6, 2, 2)]  # B = 8 samples, V = 2 views
    fused = ViewMaxPoolFusion([4, 6], norm_cfg=None, act_cfg=None)
    fused.load_state_dict(neck.state_dict())
    alone = [neck([f[i:i + 1] for f in feats], 1) for i in range(16)]  # each view by itself
    together = fused.eval()(feats, 2)
    torch.manual_seed(1)
    out = neck.train()(feats, 2)
    torch.manual_seed(1)
    drawn = torch.rand(8) < 0.5  # the neck's draw: one per sample, shared by the levels
    assert 0 < int(drawn.sum()) < 8
    for level in range(2):
        for row in range(16):
            want = alone[row][level][0] if drawn[row // 2] else together[level][row]
            torch.testing.assert_close(out[level][row], want)
    assert torch.equal(neck.eval()(feats, 2)[0], together[0])  # inference always fuses
    with pytest.raises(ValueError, match=r'view_dropout must be in \[0, 1\)'):
        ViewMaxPoolFusion([4], view_dropout=1.0)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='in_channels'):
        ViewMaxPoolFusion([])
    neck = ViewMaxPoolFusion([4])
    with pytest.raises(ValueError, match='3 views'):
        neck([torch.randn(4, 4, 2, 2)], 3)
    with pytest.raises(ValueError, match='feature levels'):
        neck([torch.randn(2, 4, 2, 2)] * 2, 1)
