"""DepthDataPreprocessor: ImageNet normalisation, padding to 14, padded depth never valid, stacks batched into the
model inputs with the same normalisation and padding."""
import pytest
import torch
from mmengine.structures import PixelData

from mmbokeh.models.data_preprocessors import DepthDataPreprocessor
from mmbokeh.structures import DepthDataSample


def _sample(h, w):
    s = DepthDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    s.gt_depth = PixelData(data=torch.full((1, h, w), 2.0))
    return s


def test_normalise_pad_and_depth_padding():
    pre = DepthDataPreprocessor()
    img = torch.zeros(3, 20, 30, dtype=torch.uint8)
    img[0] = 255  # blue channel in BGR
    data = pre(dict(inputs=[img, img[:, :15, :25].clone()], data_samples=[_sample(20, 30), _sample(15, 25)]),
               training=True)
    assert set(data['inputs']) == {'img'}
    x = data['inputs']['img']
    assert x.shape == (2, 3, 28, 42)  # next multiples of 14
    # BGR -> RGB: the blue input lands in channel 2, normalised with ImageNet's blue mean/std
    torch.testing.assert_close(x[0, 2, 0, 0], torch.tensor((255 - 103.53) / 57.375))
    torch.testing.assert_close(x[0, 0, 0, 0], torch.tensor(-123.675 / 58.395))
    assert (x[:, :, 20:] == 0).all() and (x[1, :, 15:] == 0).all()
    gt = data['data_samples'][1].gt_depth.data
    assert gt.shape == (1, 28, 42)
    assert (gt[:, :15, :25] == 2).all() and (gt[:, 15:] == 0).all() and (gt[:, :, 25:] == 0).all()
    assert data['data_samples'][0].metainfo['pad_shape'] == (28, 42)


def test_stacks_are_batched_normalised_and_padded_like_images():
    pre = DepthDataPreprocessor()
    gen = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, 20, 30), generator=gen, dtype=torch.uint8),
            torch.randint(0, 256, (3, 15, 25), generator=gen, dtype=torch.uint8)]
    stacks = [torch.randint(0, 256, (2, 3) + tuple(i.shape[1:]), generator=gen, dtype=torch.uint8) for i in imgs]
    raw = dict(img=imgs, stack=stacks, stack_k=[torch.tensor([10., 20.]), torch.tensor([5., 30.])])
    data = pre(dict(inputs=raw, data_samples=[_sample(20, 30), _sample(15, 25)]), training=False)
    inputs = data['inputs']
    assert set(inputs) == {'img', 'stack', 'stack_k'}
    assert inputs['stack'].shape == (2, 2, 3, 28, 42) and inputs['stack_k'].shape == (2, 2)
    torch.testing.assert_close(inputs['stack_k'], torch.tensor([[10., 20.], [5., 30.]]))
    # each frame is normalised exactly as an image would be: run frame 1 of sample 1 through as an image
    as_image = pre(dict(inputs=[imgs[0], stacks[1][1]], data_samples=None), training=False)['inputs']['img'][1]
    torch.testing.assert_close(inputs['stack'][1, 1], as_image)
    assert (inputs['stack'][1, :, :, 15:] == 0).all() and (inputs['stack'][1, :, :, :, 25:] == 0).all()
    assert data['data_samples'][0].gt_depth.data.shape == (1, 20, 30)  # not padded outside training


def test_batched_tensors_and_errors():
    pre = DepthDataPreprocessor()
    img = torch.randint(0, 256, (2, 3, 14, 14), dtype=torch.uint8)
    out = pre(dict(inputs=dict(img=img, stack=img[:, None].repeat(1, 3, 1, 1, 1), stack_k=torch.ones(2, 3))))
    torch.testing.assert_close(out['inputs']['stack'][:, 2], out['inputs']['img'])
    uneven = dict(img=[img[0], img[1]], stack=[img[:1], img], stack_k=[torch.ones(1), torch.ones(2)])
    with pytest.raises(ValueError, match='same number of stack frames'):
        pre(dict(inputs=uneven))
    with pytest.raises(ValueError, match=r"inputs\['stack_k'\] must be"):
        pre(dict(inputs=dict(img=img, stack=img[:, None], stack_k=torch.ones(2, 3))))
