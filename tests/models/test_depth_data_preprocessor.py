"""DepthDataPreprocessor: ImageNet normalisation, padding to 14, padded depth never valid, stacks alike."""
import torch
from mmengine.structures import PixelData

from mmbokeh.models.data_preprocessors import DepthDataPreprocessor
from mmbokeh.structures import DepthDataSample


def _sample(h, w, with_stack=False):
    s = DepthDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    s.gt_depth = PixelData(data=torch.full((1, h, w), 2.0))
    if with_stack:
        s.bokeh_stack = torch.full((2, 3, h, w), 255, dtype=torch.uint8)
        s.bokeh_k = torch.tensor([10., 20.])
    return s


def test_normalise_pad_and_depth_padding():
    pre = DepthDataPreprocessor()
    img = torch.zeros(3, 20, 30, dtype=torch.uint8)
    img[0] = 255  # blue channel in BGR
    data = pre(dict(inputs=[img, img[:, :15, :25].clone()], data_samples=[_sample(20, 30), _sample(15, 25)]),
               training=True)
    x = data['inputs']
    assert x.shape == (2, 3, 28, 42)  # next multiples of 14
    # BGR -> RGB: the blue input lands in channel 2, normalised with ImageNet's blue mean/std
    torch.testing.assert_close(x[0, 2, 0, 0], torch.tensor((255 - 103.53) / 57.375))
    torch.testing.assert_close(x[0, 0, 0, 0], torch.tensor(-123.675 / 58.395))
    assert (x[:, :, 20:] == 0).all() and (x[1, :, 15:] == 0).all()
    gt = data['data_samples'][1].gt_depth.data
    assert gt.shape == (1, 28, 42)
    assert (gt[:, :15, :25] == 2).all() and (gt[:, 15:] == 0).all() and (gt[:, :, 25:] == 0).all()
    assert data['data_samples'][0].metainfo['pad_shape'] == (28, 42)


def test_stack_gets_same_normalisation_and_padding():
    pre = DepthDataPreprocessor()
    img = torch.full((3, 20, 30), 255, dtype=torch.uint8)
    data = pre(dict(inputs=[img], data_samples=[_sample(20, 30, with_stack=True)]), training=False)
    stack = data['data_samples'][0].bokeh_stack
    assert stack.shape == (2, 3, 28, 42)
    torch.testing.assert_close(stack[0, :, :20, :30], data['inputs'][0, :, :20, :30])
    assert (stack[:, :, 20:] == 0).all()
    assert data['data_samples'][0].gt_depth.data.shape == (1, 20, 30)  # not padded outside training
