"""DenseASPP: shapes, the dense connections between branches, size kept by the dilation padding, bad arguments."""
import pytest
import torch

from mmbokeh.models.layers import DenseASPP
from mmbokeh.registry import MODELS


def _aspp(**kwargs) -> DenseASPP:
    torch.manual_seed(0)
    return DenseASPP(16, 8, **kwargs).eval()


def test_shapes_and_branch_widths():
    aspp = MODELS.build(dict(type='mmbokeh.DenseASPP', in_channels=16, channels=8))
    out = aspp(torch.randn(2, 16, 12, 20))
    assert out.shape == (2, 8, 12, 20)
    # branch k reads the input and the k branches before it
    assert [m.conv.in_channels for m in aspp.atrous] == [16 + 8, 16 + 16, 16 + 24, 16 + 32]
    assert [m.conv.dilation for m in aspp.atrous] == [(3, 3), (6, 6), (12, 12), (18, 18)]
    assert aspp.project.conv.in_channels == 6 * 8


@pytest.mark.parametrize('size', [(1, 1), (5, 7), (9, 13), (23, 17)])
def test_dilation_padding_keeps_odd_sizes(size):
    aspp = _aspp()
    x = torch.randn(1, 16, *size)
    assert aspp(x).shape == (1, 8, *size)
    assert all(b.shape == (1, 8, *size) for b in aspp.forward_branches(x))


def test_the_last_atrous_branch_sees_the_1x1_branch():
    aspp = _aspp()
    x = torch.randn(2, 16, 11, 9)
    with torch.no_grad():
        before = aspp.forward_branches(x)
        aspp.conv1x1.conv.weight.add_(0.5 * torch.randn_like(aspp.conv1x1.conv.weight))
        after = aspp.forward_branches(x)
    assert not torch.allclose(before[0], after[0])
    # Every atrous branch, the last one included, changes; in a plain ASPP they read only x and would not.
    for b, a in zip(before[1:-1], after[1:-1]):
        assert (b - a).abs().max() > 1e-3
    torch.testing.assert_close(before[-1], after[-1], rtol=0, atol=0)  # image pooling reads only x


def test_the_last_atrous_branch_reads_the_concatenation():
    aspp = _aspp(dilations=(2, 4))
    x = torch.randn(1, 16, 10, 10)
    with torch.no_grad():
        b0, b1, b2, _ = aspp.forward_branches(x)
        torch.testing.assert_close(b2, aspp.atrous[1](torch.cat([x, b0, b1], dim=1)))


def test_trains_at_batch_size_one():
    aspp = DenseASPP(16, 8).train()  # the pooling branch has no batch norm
    aspp(torch.randn(1, 16, 4, 4)).sum().backward()
    assert aspp.image_pool[1].conv.weight.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match='dilations must be a non-empty sequence of ints >= 1, got \\[\\]'):
        DenseASPP(16, 8, dilations=())
    with pytest.raises(ValueError, match='got \\[3, 0\\]'):
        DenseASPP(16, 8, dilations=(3, 0))
    with pytest.raises(ValueError, match='in_channels and channels must be >= 1, got 16 and 0'):
        DenseASPP(16, 0)
    with pytest.raises(ValueError, match=r'expects x of shape \[B, 16, H, W\], got \(1, 8, 4, 4\)'):
        _aspp()(torch.randn(1, 8, 4, 4))
