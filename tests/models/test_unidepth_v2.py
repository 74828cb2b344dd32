"""UniDepthV2 / UniDepthV2-DSFA against a functional re-statement of the official forward (official key layout)."""
from pathlib import Path

import pytest
import torch
from mmengine.structures import PixelData

from mmbokeh.apis import init_model
from mmbokeh.models.utils.unidepth_convert import DROPPED_SUFFIXES, convert_unidepth
from mmbokeh.models.utils.unidepth_resolution import aspect_paddings, pixel_bounds, resize_to_pixels
from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/unidepth_v2/unidepth_v2-s_dsfa.py'
TAPS_S = (3, 6, 9, 12)  # official output_idx of the ViT-S variant


@pytest.fixture(scope='module')
def converted(unidepth_oracle):
    model = init_model(CONFIG)
    official = unidepth_oracle.random_official_state(model.state_dict())
    state, dropped, unknown = convert_unidepth(official)
    missing, unexpected = model.load_state_dict(state, strict=False)
    return model, official, state, dropped, unknown, missing, unexpected


def test_official_layout_converts_without_missing_or_unexpected_keys(converted):
    model, official, state, dropped, unknown, missing, unexpected = converted
    assert unknown == [] and missing == [] and unexpected == []
    assert sorted(dropped) == sorted(['pixel_encoder.backbone.register_tokens', 'pixel_encoder.backbone.mask_token',
                                      'pixel_decoder.level_embeds'])
    assert all(k.endswith(DROPPED_SUFFIXES) for k in dropped)
    assert len(state) == len(official) - 3 == len(model.state_dict())
    assert model.backbone.vit.norm.eps == 1e-5  # official final norm (timm's default is 1e-6)
    assert len([k for k in official if '.fusion_blocks.' in k and k.endswith('focus_film.weight')]) == 4


@pytest.mark.parametrize('size', [(70, 98), (84, 56)])
@pytest.mark.parametrize('with_camera', [False, True])
def test_dsfa_matches_official_forward(converted, size, with_camera, unidepth_oracle):
    model, official = converted[:2]
    torch.manual_seed(1)
    B, S = 2, 3
    x, stack = torch.randn(B, 3, *size), torch.randn(B, S, 3, *size)
    k = torch.tensor([[10.0, 20.0, 30.0], [1.0, 6.0, 11.0]])
    h, w = size
    cam = torch.tensor([[0.9 * w, 0.0, w / 2 - 3], [0.0, 1.1 * w, h / 2 + 2], [0.0, 0.0, 1.0]]).expand(B, 3, 3)
    with torch.no_grad():
        ref = unidepth_oracle.official_forward(official, x, stack, k, cam if with_camera else None, taps=TAPS_S,
                                                 heads=6, dec_heads=4)
        # mmbokeh cameras put pixel centres at integer coordinates: the official K minus half a pixel
        ours_cam = cam.clone()
        ours_cam[:, :2, 2] -= 0.5
        depth = model.forward_depth(x, stack, k, ours_cam if with_camera else None)
        out = model.forward_outputs(dict(img=x, stack=stack, stack_k=k), cam if with_camera else None)
    torch.testing.assert_close(depth, ref['depth'][:, 0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out['confidence'], ref['confidence'], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out['intrinsics'], ref['intrinsics'], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out['rays'], ref['rays'], rtol=1e-4, atol=1e-4)
    assert depth.std() > 1e-3  # not a constant map


def test_plain_and_k_none_match_official(converted, unidepth_oracle):
    model, official = converted[:2]
    torch.manual_seed(2)
    x, stack = torch.randn(1, 3, 56, 70), torch.randn(1, 2, 3, 56, 70)
    with torch.no_grad():
        plain = model.forward_depth(x)
        ref = unidepth_oracle.official_forward(official, x, taps=TAPS_S, heads=6, dec_heads=4)['depth'][:, 0]
        torch.testing.assert_close(plain, ref, rtol=1e-4, atol=1e-4)
        no_k = model.forward_depth(x, stack)  # the official model uses K = 0 when it gets no K
        ref = unidepth_oracle.official_forward(official, x, stack, None, taps=TAPS_S, heads=6,
                                                 dec_heads=4)['depth'][:, 0]
        torch.testing.assert_close(no_k, ref, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(no_k, plain)


def test_camera_does_not_depend_on_stack(converted):
    model = converted[0]
    x, stack, k = torch.randn(1, 3, 42, 56), torch.randn(1, 3, 3, 42, 56), torch.tensor([[10.0, 20.0, 30.0]])
    with torch.no_grad():
        a = model.forward_outputs(dict(img=x))['intrinsics']
        b = model.forward_outputs(dict(img=x, stack=stack, stack_k=k))['intrinsics']
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize('shape', [(480, 640), (100, 400), (700, 200), (1080, 1920), (37, 41)])
@pytest.mark.parametrize('level', [None, 0, 9])
def test_input_size_rule_matches_official(shape, level, unidepth_oracle):
    pads, padded = aspect_paddings(shape)
    assert (pads, padded) == unidepth_oracle.official_paddings(shape)
    bounds = pixel_bounds(level)
    assert resize_to_pixels(padded, bounds) == unidepth_oracle.official_resize_factor(padded, bounds)


def test_loss_and_predict(converted):
    model = converted[0]
    model.train()
    torch.manual_seed(3)
    x, stack, k = torch.randn(2, 3, 42, 56), torch.randn(2, 2, 3, 42, 56), torch.tensor([[10.0, 20.0], [5.0, 9.0]])
    samples = []
    for _ in range(2):
        s = DepthDataSample(metainfo=dict(img_shape=(42, 56), ori_shape=(42, 56),
                                          cam_intrinsics=[[50.0, 0, 27.5], [0, 50.0, 20.5], [0, 0, 1]]))
        s.gt_depth = PixelData(data=torch.rand(1, 42, 56) * 5 + 0.5)
        samples.append(s)
    model.decode_head.loss_decode = torch.nn.ModuleList(MODELS.build(dict(type=t)) for t in (
        'UniDepthSILogLoss', 'UniDepthConfidenceLoss', 'UniDepthCameraLoss', 'MSEDepthLoss'))  # the NYU recipe's
    losses = model.loss(dict(img=x, stack=stack, stack_k=k), samples)
    assert set(losses) == {'loss_silog', 'loss_confidence', 'loss_camera', 'loss_mse'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.decode_head.camera_head.latents_pos.grad.abs().sum() > 0  # the camera loss reaches the camera
    assert model.neck.layers['0'].k_embed[0].weight.grad.abs().sum() > 0
    assert model.backbone.vit.patch_embed.proj.weight.grad is None  # frozen, as the official patch embedding
    model.eval()
    with torch.no_grad():
        out = model.predict(dict(img=x, stack=stack, stack_k=k),
                            [DepthDataSample(metainfo=dict(img_shape=(42, 56), ori_shape=(84, 112))) for _ in x])
        raw = model.forward_outputs(dict(img=x, stack=stack, stack_k=k))
    for sample, k_net in zip(out, raw['intrinsics']):
        assert sample.pred_depth.data.shape == sample.pred_confidence.data.shape == (1, 84, 112)
        # K of the 2x larger output image (UniDepth's centres at u + 0.5 scale exactly), then centres at integers
        k_net = k_net.numpy()
        expect = [2 * k_net[0, 0], 2 * k_net[1, 1], 2 * k_net[0, 2] - 0.5, 2 * k_net[1, 2] - 0.5]
        got = sample.pred_intrinsics
        assert abs(got[0, 0] - expect[0]) < 1e-3 and abs(got[1, 1] - expect[1]) < 1e-3
        assert abs(got[0, 2] - expect[2]) < 1e-3 and abs(got[1, 2] - expect[3]) < 1e-3
