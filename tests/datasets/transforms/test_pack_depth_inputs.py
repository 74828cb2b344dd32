"""PackDepthInputs: tensors in the documented layouts and dtypes, metainfo from meta keys and camera keys."""
import numpy as np
import pytest
import torch

from mmbokeh.datasets.transforms import PackDepthInputs
from mmbokeh.structures import DepthDataSample


def sample(dtype=np.uint8):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (5, 7, 3)).astype(dtype)
    return dict(img=img, gt_depth=rng.random((5, 7)).astype(np.float32) * 10,
                bokeh_stack=rng.integers(0, 256, (2, 5, 7, 3)).astype(dtype), bokeh_k=[10.0, 20.0],
                img_path='a.jpg', depth_path='a.png', ori_shape=(5, 7), img_shape=(5, 7), flip=False,
                sample_idx=3, focal_length_px=518.8, cam_intrinsics=np.eye(3, dtype=np.float32), extra='dropped')


@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_pack_layouts(dtype):
    results = sample(dtype)
    out = PackDepthInputs()(dict(results))
    packed, data_sample = out['inputs'], out['data_samples']
    assert isinstance(data_sample, DepthDataSample)
    assert set(packed) == {'img', 'stack', 'stack_k'}
    inputs = packed['img']
    assert inputs.shape == (3, 5, 7) and inputs.is_contiguous()
    assert inputs.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype  # uint8 stays uint8
    np.testing.assert_array_equal(inputs.numpy(), results['img'].transpose(2, 0, 1))  # channel order untouched
    gt = data_sample.gt_depth.data
    assert gt.shape == (1, 5, 7) and gt.dtype == torch.float32
    np.testing.assert_array_equal(gt[0].numpy(), results['gt_depth'])
    stack = packed['stack']
    assert stack.shape == (2, 3, 5, 7) and stack.dtype == inputs.dtype
    np.testing.assert_array_equal(stack.numpy(), results['bokeh_stack'].transpose(0, 3, 1, 2))
    assert packed['stack_k'].dtype == torch.float32 and packed['stack_k'].tolist() == [10.0, 20.0]
    assert 'bokeh_stack' not in data_sample  # frames are inputs, not data-sample fields


def test_pack_focal_stack_and_camera():
    results = sample()
    results['focal_stack'] = results.pop('bokeh_stack')
    del results['bokeh_k']
    results.update(focus_dists=[0.3, 1.5], camera=dict(focal_length=2.9e-3, f_number=1.0, pixel_size=12.1e-6))
    packed = PackDepthInputs()(dict(results))['inputs']
    assert set(packed) == {'img', 'stack', 'stack_focus', 'camera'}
    np.testing.assert_array_equal(packed['stack'].numpy(), results['focal_stack'].transpose(0, 3, 1, 2))
    torch.testing.assert_close(packed['stack_focus'], torch.tensor([0.3, 1.5]))
    torch.testing.assert_close(packed['camera'], torch.tensor([2.9e-3, 1.0, 12.1e-6]))
    both = dict(results, bokeh_stack=results['focal_stack'], bokeh_k=[1.0, 2.0])
    with pytest.raises(ValueError, match='one stack'):
        PackDepthInputs()(both)
    with pytest.raises(KeyError, match='focus_dists'):
        PackDepthInputs()({k: v for k, v in results.items() if k != 'focus_dists'})
    with pytest.raises(KeyError, match='pixel_size'):
        PackDepthInputs()(dict(results, camera=dict(focal_length=1.0, f_number=2.0)))


def test_pack_metainfo():
    out = PackDepthInputs()(sample())
    meta = out['data_samples'].metainfo
    assert set(meta) == {'img_path', 'depth_path', 'ori_shape', 'img_shape', 'flip', 'sample_idx',
                         'focal_length_px', 'cam_intrinsics'}  # focus_dist absent, 'extra' not a meta key
    assert meta['img_path'] == 'a.jpg' and meta['sample_idx'] == 3 and meta['focal_length_px'] == 518.8
    meta = PackDepthInputs(meta_keys=('img_path', 'extra'))(sample())['data_samples'].metainfo
    assert set(meta) == {'img_path', 'extra', 'focal_length_px', 'cam_intrinsics'}


def test_pack_image_only_and_errors():
    out = PackDepthInputs()(dict(img=np.zeros((4, 6, 3), np.uint8)))
    assert set(out['inputs']) == {'img'} and out['inputs']['img'].shape == (3, 4, 6)
    assert 'gt_depth' not in out['data_samples']
    bad = sample()
    bad['bokeh_k'] = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match='bokeh_k has 3 values for 2 stack frames'):
        PackDepthInputs()(bad)
    with pytest.raises(KeyError, match='img'):
        PackDepthInputs()(dict(gt_depth=np.zeros((2, 2), np.float32)))
