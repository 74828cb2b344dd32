"""Fuzz of the physical Stage-1 backend through ``BokehStackGenerator`` and of the ops ``splat_bokeh`` /
``psf_blur``: images of 0 to 5 pixels a side in every dtype, depth with NaN/inf/0/negative values or no valid pixel
at all, K lists with zero, negative or a single value, every focus mode, both kernels and implementations. Each case
must either give a stack/output of the right shape and dtype, finite where the inputs were, or raise
ValueError/KeyError/TypeError naming the offending input. Seeds: see ``conftest.py`` (derandomized)."""
import numpy as np
import torch
from fuzz_helpers import NP_DTYPES, assert_finite, has_nonfinite, np_array, run_or_reject
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbokeh.datasets.transforms import BokehStackGenerator
from mmbokeh.ops import psf_blur, splat_bokeh

GEN_NAMES = ('img', 'gt_depth', 'k_values', 'k_range', 'num_k', 'focus', 'depth', 'K', 'valid pixel', 'dtype')


@settings(max_examples=250)
@given(data=st.data(), h=st.integers(0, 5), w=st.integers(0, 5), dtype=NP_DTYPES,
       k=st.one_of(st.lists(st.sampled_from([0.0, 1.0, 3.0, 8.0, -1.0, float('nan')]), min_size=0, max_size=3),
                   st.just(None)),
       focus=st.sampled_from(['foreground', 'median', 1.0, 2.5, -1.0, 0.0, dict(mode='random', range=(0.5, 3.0))]),
       depth_kind=st.sampled_from(['ok', 'ok', 'special', 'invalid', 'tiny', 'missing', 'misaligned']),
       impl=st.sampled_from(['reference', None]), kernel=st.sampled_from(['soft_disc', 'gaussian']),
       occlusion=st.booleans(), resolution=st.sampled_from(['full', 'full', 'pyramid']))
def test_bokeh_stack_generator(data, h, w, dtype, k, focus, depth_kind, impl, kernel, occlusion, resolution):
    backend = dict(type='physical', impl=impl, kernel=kernel, occlusion=occlusion, resolution=resolution)
    gen = run_or_reject(lambda: BokehStackGenerator(backend=backend, k_values=k, focus=focus, seed=0), GEN_NAMES)
    if gen is None:
        return
    img = np_array(data.draw, (h, w, 3), dtype, special_prob=0.1)
    results = dict(img=img, img_path='fuzz.png', sample_idx=0)
    if depth_kind != 'missing':
        lo, hi = dict(ok=(0.5, 8.0), special=(0.5, 8.0), invalid=(-2.0, 0.0), tiny=(1e-6, 1e-4),
                      misaligned=(0.5, 8.0))[depth_kind]
        shape = (h + 1, w) if depth_kind == 'misaligned' else (h, w)
        results['gt_depth'] = np_array(data.draw, shape, 'float32', lo, hi,
                                       special_prob=1.0 if depth_kind == 'special' else 0.0)
    out = run_or_reject(lambda: gen(dict(results)), GEN_NAMES)
    if out is None:
        return
    assert np.dtype(dtype) in (np.uint8, np.uint16, np.float16, np.float32, np.float64), 'dtype accepted'
    stack = out['bokeh_stack']
    assert stack.shape == (len(k),) + img.shape and stack.dtype == img.dtype
    assert out['bokeh_k'].shape == (len(k),) and np.isfinite(out['bokeh_k']).all()
    if 'focus_dist' in out:
        assert np.isfinite(out['focus_dist']) and out['focus_dist'] > 0
    if not has_nonfinite(img):
        assert_finite('bokeh_stack', stack)


OP_NAMES = ('image', 'defocus', 'sigma', 'window', 'kernel', 'occlusion', 'impl')
OP_DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'float16': torch.float16, 'int64': torch.int64}


@st.composite
def op_inputs(draw):
    b, c, h, w = (draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 2)) for _ in range(4))
    dtype = draw(st.sampled_from(['float32', 'float32', 'float64', 'float16', 'int64']))
    image = torch.from_numpy(np_array(draw, (b, c, h, w), 'float64', 0.0, 1.0, 0.1)).to(OP_DTYPES[dtype])
    mshape = (b, 1, h, w) if draw(st.integers(0, 9)) else (b, 1, h + 1, w)
    mdtype = dtype if draw(st.integers(0, 9)) else draw(st.sampled_from(list(OP_DTYPES)))
    scale = draw(st.sampled_from([0.5, 3.0, 20.0, 2000.0]))
    amap = torch.from_numpy(np_array(draw, mshape, 'float64', -scale, scale, 0.1)).to(OP_DTYPES[mdtype])
    return image, amap


@settings(max_examples=150)
@given(inputs=op_inputs(), kernel=st.sampled_from(['soft_disc', 'gaussian', 'box']), occlusion=st.booleans(),
       impl=st.sampled_from(['reference', 'cpu']))
def test_splat_bokeh(inputs, kernel, occlusion, impl):
    image, defocus = inputs
    out = run_or_reject(lambda: splat_bokeh(image, defocus, kernel, occlusion, impl=impl), OP_NAMES)
    if out is None:
        return
    assert out.shape == image.shape and out.dtype == image.dtype
    if not has_nonfinite(image):
        assert_finite('splat_bokeh', out)


@settings(max_examples=150)
@given(inputs=op_inputs(), window=st.sampled_from([1, 3, 7, 2, 0, -3, 103]), impl=st.sampled_from(['reference', 'cpu']))
def test_psf_blur(inputs, window, impl):
    image, sigma = inputs
    out = run_or_reject(lambda: psf_blur(image, sigma, window, impl=impl), OP_NAMES)
    if out is None:
        return
    assert out.shape == image.shape and out.dtype == image.dtype
    if not has_nonfinite(image):
        assert_finite('psf_blur', out)
