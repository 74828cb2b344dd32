"""BokehDepthEstimator modes: loss ignores padding and invalid depth, predict returns depth at the original size."""
import torch
from mmengine.structures import PixelData

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample


def _model():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmbokeh.BokehDepthEstimator',
        backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                      img_size=64),
        decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0),
        data_preprocessor=dict(type='mmbokeh.DepthDataPreprocessor', pad_size_divisor=16)))


def _batch(h, w, ori=None):
    s = DepthDataSample(metainfo=dict(img_shape=(h, w), ori_shape=ori or (h, w)))
    s.gt_depth = PixelData(data=torch.rand(1, h, w) * 5 + 1)
    return dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)], data_samples=[s])


def test_loss_ignores_padding_and_out_of_range_depth():
    model = _model()
    data = model.data_preprocessor(_batch(40, 50), training=True)
    loss = model(**data, mode='loss')['loss_silog']
    gt = data['data_samples'][0].gt_depth.data
    assert gt.shape == (1, 48, 64)
    gt[:, :, 50:] = 0  # padding stays invalid
    gt[:, :5] = 50.0   # beyond max_depth: invalid too
    pred = model(data['inputs'], mode='tensor')
    valid = (gt > 1e-3) & (gt <= 10)
    diff = torch.log(gt[valid]) - torch.log(pred[0][valid[0]])
    expected = torch.sqrt((diff ** 2).mean() - 0.5 * diff.mean() ** 2)
    data['data_samples'][0].gt_depth = type(data['data_samples'][0].gt_depth)(data=gt)
    torch.testing.assert_close(model(**data, mode='loss')['loss_silog'], expected, rtol=1e-4, atol=1e-5)
    assert loss.requires_grad


def test_predict_crops_padding_and_resizes_to_original():
    model = _model().eval()
    data = model.data_preprocessor(_batch(40, 50, ori=(80, 100)), training=False)
    with torch.no_grad():
        raw = model(data['inputs'], mode='tensor')
        out = model(**data, mode='predict')[0]
    assert out.pred_depth.data.shape == (1, 80, 100)
    cropped = raw[:, None, :40, :50]
    expected = torch.nn.functional.interpolate(cropped, (80, 100), mode='bilinear', align_corners=True)[0]
    torch.testing.assert_close(out.pred_depth.data, expected)
