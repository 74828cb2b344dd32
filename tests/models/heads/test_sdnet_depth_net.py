"""SDNet's DepthNet: shapes, zero-initialised residual, input flags, eq. 15 loss, training signal, gradients."""
import pytest
import torch
from mmengine.structures import PixelData

from mmbokeh.models.heads import DepthNet
from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

TRAIN_CFG = dict(min_depth=1e-3, max_depth=10.0)


def _net(**kwargs) -> DepthNet:
    torch.manual_seed(0)
    return MODELS.build(dict(type='mmbokeh.DepthNet', **kwargs))


def _inputs(b, h, w, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 3, h, w, generator=gen), torch.rand(b, 1, h, w, generator=gen),
            torch.rand(b, 1, h, w, generator=gen) * 4 + 0.5)


def _samples(gt):
    samples = []
    for d in gt:
        s = DepthDataSample(metainfo=dict(img_shape=tuple(d.shape[-2:])))
        s.gt_depth = PixelData(data=d.clone())
        samples.append(s)
    return samples


@pytest.mark.parametrize('size', [(64, 80), (45, 71), (33, 97)])
def test_shapes_for_any_size(size):
    net = _net().eval()
    image, defocus, init = _inputs(2, *size)
    with torch.no_grad():
        out = net(image, defocus, init)
    assert set(out) == {'depth', 'residual'}
    assert out['depth'].shape == out['residual'].shape == (2, 1, *size)
    assert net.encoder.strides == [2, 4, 8, 16, 32]
    assert [net.encoder.strides[i] for i in net.skip_indices] == [16, 8, 4]


def test_depth_starts_at_the_initial_depth_exactly():
    net = _net()
    net.init_weights()  # keeps the zero-initialised last conv
    image, defocus, init = _inputs(2, 64, 80)
    out = net(image, defocus, init)
    assert torch.equal(out['depth'], init)
    assert torch.equal(out['residual'], torch.zeros_like(init))
    baseline = _net(use_defocus=False, use_init_depth=False, default_depth=2.5)
    assert torch.equal(baseline(image)['depth'], torch.full_like(init, 2.5))


def test_constant_residual_base_takes_the_initial_depth_as_input_only():
    net = _net(residual_base='constant', default_depth=1.5)
    image, defocus, init = _inputs(2, 32, 40)
    assert net.in_channels == 5
    assert torch.equal(net(image, defocus, init)['depth'], torch.full_like(init, 1.5))  # zero residual at init
    torch.nn.init.normal_(net.residual_conv.weight, std=0.1)
    net.eval()
    with torch.no_grad():  # the initial depth changes the output through the encoder, not as its base
        a, b = net(image, defocus, init), net(image, defocus, init + 1.0)
    assert torch.equal(a['depth'], 1.5 + a['residual'])
    assert not torch.allclose(a['depth'], b['depth']) and not torch.allclose(b['depth'] - a['depth'],
                                                                              torch.ones_like(init))
    with pytest.raises(ValueError, match="residual_base='init_depth' needs use_init_depth=True"):
        _net(use_init_depth=False, residual_base='init_depth')
    with pytest.raises(ValueError, match=r"residual_base must be one of \('init_depth', 'constant'\)"):
        _net(residual_base='zero')


def test_init_cfg_does_not_undo_the_zero_init():
    net = _net(init_cfg=dict(type='Normal', layer='Conv2d', std=0.1))
    net.init_weights()
    assert net.residual_conv.weight.abs().sum() == 0 and net.aspp.conv1x1.conv.weight.std() > 0.05


@pytest.mark.parametrize('use_defocus, use_init_depth, channels', [(True, True, 5), (True, False, 4),
                                                                   (False, True, 4), (False, False, 3)])
def test_flags_set_the_encoder_input_channels(use_defocus, use_init_depth, channels):
    net = _net(use_defocus=use_defocus, use_init_depth=use_init_depth).eval()
    assert net.in_channels == net.encoder.in_channels == channels
    assert net.encoder.model.conv1.in_channels == channels
    image, defocus, init = _inputs(1, 40, 40)
    with torch.no_grad():  # inputs the flags do not ask for are ignored
        assert net(image, defocus, init)['depth'].shape == (1, 1, 40, 40)
    if use_defocus:
        with pytest.raises(ValueError, match=r'DepthNet\(use_defocus=True\) needs defocus \[B, 1, H, W\]'):
            net(image, None, init)
    if use_init_depth:
        with pytest.raises(ValueError, match=r'DepthNet\(use_init_depth=True\) needs init_depth \[B, 1, H, W\]'):
            net(image, defocus, None)


def test_bad_arguments():
    with pytest.raises(ValueError, match='in_channels to 5 .*says in_channels=3'):
        _net(encoder=dict(type='mmbokeh.TimmFeatures', model_name='resnet18', in_channels=3))
    with pytest.raises(ValueError, match=r'strides 16, 8, 4 below its deepest stride 32; .*\[16, 32\]'):
        _net(encoder=dict(type='mmbokeh.TimmFeatures', model_name='resnet18', out_indices=(3, 4)))
    with pytest.raises(ValueError, match='decoder_channels needs 3 positive widths'):
        _net(decoder_channels=(64, 32))
    with pytest.raises(ValueError, match='depth_scale must be > 0'):
        _net(depth_scale=0)
    net = _net()
    image, defocus, init = _inputs(2, 32, 32)
    with pytest.raises(ValueError, match=r'defocus must be \[B, 1, H, W\] = \[2, 1, 32, 32\]'):
        net(image, defocus[:, :, :16], init)
    with pytest.raises(ValueError, match=r'image must be \[B, 3, H, W\]'):
        net(image[:, :1], defocus, init)


def test_other_timm_encoders():
    net = _net(encoder=dict(type='mmbokeh.TimmFeatures', model_name='pvt_v2_b0'), attention=False).eval()
    assert net.encoder.strides == [4, 8, 16, 32] and net.skip_indices == [2, 1, 0]
    with torch.no_grad():
        assert net(*_inputs(1, 50, 70))['depth'].shape == (1, 1, 50, 70)


def test_loss_res_is_the_l1_of_init_plus_residual():
    net = _net().eval()
    image, defocus, init = _inputs(2, 32, 40)
    with torch.no_grad():
        net.residual_conv.weight.normal_(std=0.05)
        outputs = net(image, defocus, init)
    gt = torch.rand(2, 1, 32, 40) * 5 + 0.5
    gt[0, :, :4] = 0.0   # invalid: no depth
    gt[1, :, -3:] = 20.0  # invalid: beyond max_depth
    losses = net.loss_by_feat(outputs, _samples(gt), TRAIN_CFG)
    assert set(losses) == {'loss_res'}
    valid = (gt > 1e-3) & (gt <= 10.0)
    expected = ((init + outputs['residual']) - gt)[valid].abs().mean()
    torch.testing.assert_close(losses['loss_res'], expected)


def test_smoothness_loss_on_the_depth_with_the_image():
    pytest.importorskip('mmbokeh.models.losses.smoothness_loss')
    if 'EdgeAwareSmoothnessLoss' not in MODELS.module_dict:
        pytest.skip('mmbokeh.EdgeAwareSmoothnessLoss is not registered')
    cfg = dict(type='mmbokeh.EdgeAwareSmoothnessLoss', loss_weight=1e-3)
    net = _net(loss_smooth=cfg).eval()
    image, defocus, init = _inputs(2, 32, 40)
    with torch.no_grad():
        outputs = net(image, defocus, init)
    gt = torch.rand(2, 1, 32, 40) * 5 + 0.5
    losses = net.loss_by_feat(outputs, _samples(gt), TRAIN_CFG, image=image)
    assert set(losses) == {'loss_res', 'loss_smooth'}
    torch.testing.assert_close(losses['loss_smooth'], MODELS.build(cfg)(outputs['depth'], image))
    assert set(net.loss_by_feat(outputs, _samples(gt), TRAIN_CFG)) == {'loss_res'}  # no image: skipped
    assert set(net.loss(image, defocus, init, _samples(gt), TRAIN_CFG)) == {'loss_res', 'loss_smooth'}


def test_sgd_steps_reduce_the_loss_on_one_sample():
    net = _net().train()
    image, defocus, init = _inputs(1, 64, 64)
    samples = _samples(init + 0.3 * torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(3)))
    optim = torch.optim.SGD(net.parameters(), lr=1e-3)
    history = []
    for _ in range(8):
        loss = net.loss(image, defocus, init, samples, TRAIN_CFG)['loss_res']
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append(loss.item())
    assert history[-1] < 0.7 * history[0], history


def test_gradients_reach_the_defocus_map_and_the_initial_depth():
    net = _net().train()
    with torch.no_grad():
        net.residual_conv.weight.normal_(std=0.05)  # at init the zero conv blocks the path through the network
    image, defocus, init = _inputs(2, 48, 48)
    defocus.requires_grad_(True)
    init.requires_grad_(True)
    net(image, defocus, init)['depth'].sum().backward()
    assert defocus.grad.abs().sum() > 0
    # init_depth reaches depth directly (gradient 1) and through the encoder input
    assert (init.grad - 1).abs().sum() > 0
