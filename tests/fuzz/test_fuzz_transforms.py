"""Fuzz of the geometric transforms (RandomCrop, RandomFlip, ResizeToMultiple) on random results dicts: shapes from
0 to 6 pixels, every image dtype (supported and not), NaN/inf in depth, stacks of 0 to 3 frames, misaligned depth,
bad parameters. Each case must either work (aligned outputs of the right shape, finite where the input was) or
raise ValueError/KeyError/TypeError naming the offending input. Seeds: see ``conftest.py`` (derandomized)."""
import numpy as np
from fuzz_helpers import NP_DTYPES, SUPPORTED_NP, UNSUPPORTED_NP, assert_finite, has_nonfinite, np_array, run_or_reject
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbokeh.datasets.transforms import RandomCrop, RandomFlip, ResizeToMultiple

IMG_NAMES = ('img', 'gt_depth', 'bokeh_stack', 'crop_size', 'scale', 'size_divisor', 'prob')


@st.composite
def results_dicts(draw, max_side: int = 6):
    h, w = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    dtype = draw(NP_DTYPES)
    results = dict(img=np_array(draw, (h, w, 3), dtype, special_prob=0.2), img_path='fuzz.png')
    if draw(st.booleans()):
        dh, dw = (h, w) if draw(st.integers(0, 4)) else (h + 1, w)
        depth_dtype = draw(st.sampled_from(['float32'] * 4 + ['float64', 'float16', 'uint16']))
        results['gt_depth'] = np_array(draw, (dh, dw), depth_dtype, 0.0, 20.0, special_prob=0.3)
    if draw(st.booleans()):
        s = draw(st.integers(0, 3))
        stack_dtype = dtype if draw(st.integers(0, 2)) else draw(st.sampled_from(SUPPORTED_NP + UNSUPPORTED_NP))
        results['bokeh_stack'] = np_array(draw, (s, h, w, 3), stack_dtype, special_prob=0.1)
        results['bokeh_k'] = np.linspace(1, 30, s, dtype=np.float32)
    if draw(st.booleans()):
        results['cam_intrinsics'] = np.array([[5.0, 0, w / 2], [0, 5.0, h / 2], [0, 0, 1]], np.float32)
        results['focal_length_px'] = 5.0
    return results


def _check_aligned(out, h, w):
    assert out['img'].shape[:2] == (h, w)
    if 'bokeh_stack' in out:
        assert out['bokeh_stack'].shape[1:3] == (h, w)
    if 'cam_intrinsics' in out:
        assert_finite('cam_intrinsics', out['cam_intrinsics'])


def _apply(transform, results):
    """``transform`` on a copy of ``results``, or None when it rejected the case with a clear error."""
    return run_or_reject(lambda: transform(dict(results)), IMG_NAMES)


def _finite_if_input_was(results, out):
    """Image, depth and stack come out finite whenever they went in finite."""
    if not has_nonfinite(results['img'], results.get('gt_depth'), results.get('bokeh_stack')):
        for key in ('img', 'gt_depth', 'bokeh_stack'):
            if key in out:
                assert_finite(key, out[key])


@settings(max_examples=200)
@given(results=results_dicts(), crop=st.one_of(st.integers(-1, 7), st.tuples(st.integers(-1, 7), st.integers(0, 7))),
       seed=st.integers(0, 2**31 - 1))
def test_random_crop(results, crop, seed):
    np.random.seed(seed)
    t = run_or_reject(lambda: RandomCrop(crop), IMG_NAMES)
    if t is None:
        return
    img, depth = results['img'], results.get('gt_depth')
    out = _apply(t, results)
    if out is None:
        return
    ch, cw = t.crop_size
    _check_aligned(out, ch, cw)
    assert out['img'].dtype == img.dtype and out['img_shape'] == (ch, cw)
    if depth is not None:
        assert out['gt_depth'].shape == (ch, cw)
    _finite_if_input_was(results, out)


@settings(max_examples=150)
@given(results=results_dicts(), prob=st.floats(-0.5, 1.5), flip=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_random_flip(results, prob, flip, seed):
    np.random.seed(seed)
    results['flip'] = flip
    t = run_or_reject(lambda: RandomFlip(prob), IMG_NAMES)
    if t is None:
        return
    img, depth = results['img'], results.get('gt_depth')
    out = run_or_reject(lambda: t(dict(results)), IMG_NAMES, valid=True)
    _check_aligned(out, *img.shape[:2])
    assert out['img'].dtype == img.dtype
    if depth is not None:
        assert out['gt_depth'].shape == depth.shape
    mirrored = out['flip'] != flip
    if mirrored:
        np.testing.assert_array_equal(out['img'], img[:, ::-1])
    else:
        np.testing.assert_array_equal(out['img'], img)
    _finite_if_input_was(results, out)


@settings(max_examples=200)
@given(results=results_dicts(), scale=st.one_of(st.integers(-1, 30), st.tuples(st.integers(0, 30), st.integers(1, 30))),
       divisor=st.sampled_from([1, 2, 7, 14, 0, -2]),
       method=st.sampled_from(['lower_bound', 'upper_bound', 'minimal', 'nearest_multiple']),
       keep_ratio=st.booleans(), resize_depth=st.booleans(), rescale_k=st.booleans(),
       interpolation=st.sampled_from(['bicubic', 'bilinear', 'nearest', 'area', 'lanczos', 'cubic']))
def test_resize_to_multiple(results, scale, divisor, method, keep_ratio, resize_depth, rescale_k, interpolation):
    t = run_or_reject(lambda: ResizeToMultiple(scale, keep_ratio, method, divisor, resize_depth, interpolation,
                                               rescale_bokeh_k=rescale_k),
                      IMG_NAMES + ('resize_method', 'interpolation'))
    if t is None:
        return
    img, depth = results['img'], results.get('gt_depth')
    out = _apply(t, results)
    if out is None:
        return
    new_h, new_w = out['img_shape']
    assert new_h > 0 and new_w > 0 and new_h % divisor == 0 and new_w % divisor == 0
    _check_aligned(out, new_h, new_w)
    assert out['img'].dtype == img.dtype
    if depth is not None:
        assert out['gt_depth'].shape == ((new_h, new_w) if resize_depth else depth.shape)
    assert np.isfinite(out['scale_factor']).all()
    if 'bokeh_k' in out:
        assert_finite('bokeh_k', out['bokeh_k'])
    _finite_if_input_was(results, out)
