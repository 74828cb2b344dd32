"""SDNet estimator: training views, the thin lens between CoC and depth, single-image inference, the DepthNet-only
baseline and the ablation configs, on tiny models built here."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmbokeh.optics import k_from_camera
from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

ROOT = Path(__file__).resolve().parents[2]
H = W = 32
CAMERA = dict(focal_length=20e-3, f_number=2.0, pixel_size=30e-6)


def tiny_model_cfg(config: str = 'configs/sdnet/sdnet_synthetic.py', **model) -> dict:
    """The shipped config's model with a resnet-free tiny encoder and DepthNet, so a step takes well under a second."""
    cfg = Config.fromfile(str(ROOT / config)).model
    if cfg.backbone is not None:
        cfg.backbone = dict(type='mmbokeh.TimmFeatures', model_name='resnet10t', out_indices=(1, 2, 3))
        cfg.defocus_head.channels = 8
    cfg.depth_net.encoder = dict(type='mmbokeh.TimmFeatures', model_name='resnet10t')
    cfg.depth_net.aspp_channels = 16
    cfg.depth_net.decoder_channels = (16, 8, 8)
    cfg.update(model)
    return cfg.to_dict()


def batch(num: int = 2, frames: int = 4, seed: int = 0):
    """Normalised inputs and samples of a tiny focal-stack batch (random content, the demo's focus distances, depth
    0.5-2.5 m)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = dict(img=torch.randn(num, 3, H, W, generator=gen),
                  stack=torch.randn(num, frames, 3, H, W, generator=gen),
                  stack_focus=torch.tensor([[0.5, 1.0, 1.5, 3.0][:frames]] * num),
                  camera=torch.tensor([[CAMERA['focal_length'], CAMERA['f_number'], CAMERA['pixel_size']]] * num))
    samples = []
    for _ in range(num):
        sample = DepthDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W)))
        sample.gt_depth = PixelData(data=0.5 + 2 * torch.rand(1, H, W, generator=gen))
        samples.append(sample)
    return inputs, samples


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmbokeh')


def test_training_step_gives_every_loss_of_eq14_and_eq15():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_defocus', 'loss_smooth', 'loss_recon', 'loss_blur', 'loss_coc', 'loss_res',
                           'loss_depth_smooth'}  # the demo config supervises the CoC too (coc_sup_weight 1)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    # every trained part gets a gradient: the encoder through the defocus loss, the CoC head through the rendering
    for name in ('backbone', 'neck', 'defocus_head.coc_out', 'defocus_head.defocus_out', 'depth_net'):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(name) and p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_training_views_are_distinct_reproducible_and_advance_with_each_step():
    model = MODELS.build(tiny_model_cfg())
    first = model._train_views(6, 4, torch.device('cpu'))
    assert first.shape == (6, 2) and all(len(set(row.tolist())) == 2 for row in first)
    inputs, samples = batch(frames=3)
    model(inputs, samples, mode='loss')
    assert int(model.num_loss_calls) == 1 and 'num_loss_calls' in model.state_dict()
    second = model._train_views(6, 4, torch.device('cpu'))
    assert not torch.equal(first, second)
    model.num_loss_calls.zero_()  # a resumed run restores the counter and draws the same views again
    assert torch.equal(model._train_views(6, 4, torch.device('cpu')), first)
    fixed = MODELS.build(tiny_model_cfg(train_cfg=dict(views=[0, 2], min_depth=0.1, max_depth=3.0)))
    assert fixed._train_views(3, 5, torch.device('cpu')).tolist() == [[0, 2]] * 3


def test_thin_lens_depth_follows_the_predicted_coc_and_splat_depth_is_eq13():
    torch.manual_seed(0)
    cfg = tiny_model_cfg(test_cfg=dict(view=1))
    cfg['depth_net']['residual_base'] = 'init_depth'  # the paper's residual over the initial depth (eq. 15)
    model = MODELS.build(cfg).eval()
    inputs, _ = batch(num=1)
    with torch.no_grad():
        out = model._forward(inputs)
    k = k_from_camera(CAMERA['focal_length'], CAMERA['f_number'], 1.0, CAMERA['pixel_size'])  # frame 1: 1 m
    lo, hi = model.train_cfg['min_depth'], model.train_cfg['max_depth']
    inverse = (1 / 1.0 + out['coc'] / k).clamp(1 / hi, 1 / lo)  # beyond infinity (c < -K / s): the far bound
    torch.testing.assert_close(out['thin_lens_depth'], 1 / inverse)
    torch.testing.assert_close(out['depth'], out['init_depth'] + out['residual'])
    # a constant CoC gives a fronto-parallel thin-lens plane: the Gaussians back-projected from it render (eq. 13)
    # that plane's depth wherever they cover the image, and the initial depth falls back to the plane elsewhere
    with torch.no_grad():
        model.defocus_head.coc_out.weight.zero_()
        model.defocus_head.coc_out.bias.fill_(1.0)
        out = model._forward(inputs)
    plane = float(out['thin_lens_depth'].mean())
    torch.testing.assert_close(out['thin_lens_depth'], torch.full_like(out['thin_lens_depth'], plane))
    covered = out['alpha'] > 0.5
    assert covered.float().mean() > 0.9
    torch.testing.assert_close(out['init_depth'], torch.full_like(out['init_depth'], plane), rtol=1e-3, atol=0)


def test_predict_returns_depth_defocus_and_coc_at_the_original_size():
    model = MODELS.build(tiny_model_cfg(test_cfg=dict(view=0))).eval()
    inputs, samples = batch(num=2)
    for s in samples:
        s.set_metainfo(dict(ori_shape=(2 * H, W)))
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    for p in preds:
        assert p.pred_depth.shape == p.pred_defocus.shape == p.pred_coc.shape == (2 * H, W)
        assert 0 <= float(p.pred_defocus.data.min()) and float(p.pred_defocus.data.max()) <= 1


def test_single_image_without_stack_needs_focus_and_camera():
    model = MODELS.build(tiny_model_cfg(test_cfg=dict(view=0, focus_dist=None, camera=None))).eval()
    image = torch.randn(1, 3, H, W)
    with pytest.raises(KeyError, match='focus_dist'):
        model._forward(dict(img=image))
    model.test_cfg['focus_dist'] = 3.0
    with pytest.raises(KeyError, match='camera'):
        model._forward(dict(img=image))
    model.test_cfg['camera'] = CAMERA
    with torch.no_grad():
        from_cfg = model._forward(dict(img=image))['depth']
        inputs, _ = batch(num=1)
        as_stack = model._forward(dict(img=image, stack=image[:, None], stack_focus=torch.tensor([[3.0]]),
                                       camera=inputs['camera']))['depth']
        direct = model.forward_depth(image, 3.0, inputs['camera'])
    torch.testing.assert_close(from_cfg, as_stack)
    torch.testing.assert_close(direct, from_cfg[:, 0])


def test_training_without_focal_stack_says_what_is_missing():
    model = MODELS.build(tiny_model_cfg())
    inputs, samples = batch()
    del inputs['camera']
    with pytest.raises(KeyError, match="camera"):
        model(inputs, samples, mode='loss')


def test_depthnet_only_baseline_has_no_defocus_branch():
    cfg = tiny_model_cfg('configs/sdnet/sdnet_synthetic_depthnet-only.py')
    assert cfg['backbone'] is None and cfg['defocus_head'] is None
    model = MODELS.build(cfg)
    inputs, samples = batch()
    assert set(model(inputs, samples, mode='loss')) == {'loss_res', 'loss_depth_smooth'}
    with torch.no_grad():
        pred = model.eval()(inputs, samples, mode='predict')[0]
    assert pred.pred_depth.shape == (H, W) and 'pred_defocus' not in pred
    with pytest.raises(ValueError, match='go together'):
        MODELS.build(tiny_model_cfg(backbone=None))


@pytest.mark.parametrize('config, absent, defocus_loss', [
    ('configs/sdnet/sdnet_nyu_no-siamese.py', {'loss_defocus'}, None),
    ('configs/sdnet/sdnet_nyu_no-blur-loss.py', {'loss_blur'}, 'SiameseDefocusLoss'),
    ('configs/sdnet/sdnet_nyu_no-recon-loss.py', {'loss_recon'}, 'SiameseDefocusLoss'),
    ('configs/sdnet/sdnet_nyu_triplet.py', set(), 'TripletDefocusLoss'),
])
def test_ablation_configs_drop_exactly_their_term(config, absent, defocus_loss):
    model = MODELS.build(tiny_model_cfg(config))
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    full = {'loss_defocus', 'loss_smooth', 'loss_recon', 'loss_blur', 'loss_res', 'loss_depth_smooth'}
    assert set(losses) == full - absent
    assert type(model.defocus_head.loss_defocus).__name__ == str(defocus_loss) or defocus_loss is None
    if config.endswith('no-siamese.py'):
        assert model.neck is None and model.num_views == 1


def test_without_splat_the_thin_lens_depth_is_the_initial_depth():
    model = MODELS.build(tiny_model_cfg(splat=None)).eval()
    inputs, _ = batch(num=1)
    with torch.no_grad():
        out = model._forward(inputs)
    assert torch.equal(out['init_depth'], out['thin_lens_depth']) and 'rendered' not in out
    model.train()
    inputs, samples = batch()
    assert 'loss_recon' not in model(inputs, samples, mode='loss')


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match='num_views'):
        MODELS.build(tiny_model_cfg(num_views=0))
    with pytest.raises(ValueError, match='train_cfg.views'):
        MODELS.build(tiny_model_cfg(train_cfg=dict(views=[0])))
    model = MODELS.build(tiny_model_cfg(train_cfg=dict(views=[0, 7])))
    inputs, samples = batch()
    with pytest.raises(IndexError, match='out of range'):
        model(inputs, samples, mode='loss')
    model = MODELS.build(tiny_model_cfg(test_cfg=dict(view=5))).eval()
    with pytest.raises(IndexError, match='test_cfg.view'):
        model._forward(batch(num=1)[0])


def test_the_encoder_sees_each_frames_focus_distance():
    model = MODELS.build(tiny_model_cfg(test_cfg=dict(view=0))).eval()
    first_conv = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 4  # RGB + focus / max_depth
    inputs, _ = batch(num=1)
    with torch.no_grad():
        near = model._forward(inputs)['coc']
        inputs['stack_focus'][0, 0] = 2.5
        far = model._forward(inputs)['coc']
    assert not torch.allclose(near, far)
    plain = MODELS.build(tiny_model_cfg(focus_channel=False))
    assert next(m for m in plain.backbone.modules() if isinstance(m, torch.nn.Conv2d)).in_channels == 3
