"""Fuzz of ``PackDepthInputs`` followed by ``DepthDataPreprocessor``: batches of 1-3 random samples with images of
0 to 6 pixels a side (also 1-D / 4-D / 2-channel ones), every dtype, NaN/inf in images, depth and K, stacks of 0 to
3 frames, K of zero or negative, missing or mismatched per-frame values. Each case must either give a normalised
float batch (shape padded to the divisor, finite where the inputs were) or raise ValueError/KeyError/TypeError
naming the offending input. Seeds: see ``conftest.py`` (derandomized)."""
import torch
from fuzz_helpers import NP_DTYPES, assert_finite, has_nonfinite, np_array, run_or_reject
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbokeh.datasets.transforms import PackDepthInputs
from mmbokeh.models.data_preprocessors import DepthDataPreprocessor

NAMES = ('img', 'gt_depth', 'bokeh_stack', 'bokeh_k', 'camera', 'stack', 'frames', 'dtype')


@st.composite
def sample_results(draw, dtype, with_stack, frames):
    h, w = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    shape = draw(st.sampled_from([(h, w, 3)] * 8 + [(h, w), (h, w, 2), (h,), (1, h, w, 3)]))
    results = dict(img=np_array(draw, shape, dtype, special_prob=0.2), img_path='fuzz.png', img_shape=(h, w))
    if draw(st.booleans()):
        dshape = draw(st.sampled_from([(h, w)] * 6 + [(h, w, 1), (h,)]))
        results['gt_depth'] = np_array(draw, dshape, draw(st.sampled_from(['float32', 'float64', 'uint16', 'float16'])),
                                       0.0, 20.0, special_prob=0.3)
    if with_stack:
        sshape = draw(st.sampled_from([(frames, h, w, 3)] * 8 + [(frames, h, w), (frames, h, w, 1)]))
        results['bokeh_stack'] = np_array(draw, sshape, dtype, special_prob=0.1)
        if draw(st.integers(0, 9)):
            n = frames if draw(st.integers(0, 5)) else frames + 1
            results['bokeh_k'] = np_array(draw, (n,), 'float32', -5.0, 30.0, special_prob=0.1)
    if draw(st.integers(0, 3)) == 0:
        focal = draw(st.one_of(st.floats(-1, 1), st.just(float('nan'))))
        camera = dict(focal_length=focal, f_number=2.0, pixel_size=1e-5)
        if draw(st.integers(0, 4)) == 0:
            camera.pop('f_number')
        results['camera'] = camera
    return results


@settings(max_examples=200)
@given(data=st.data(), batch=st.integers(1, 3), dtype=NP_DTYPES, with_stack=st.booleans(),
       frames=st.integers(0, 3), divisor=st.sampled_from([1, 2, 14]), training=st.booleans())
def test_pack_and_preprocess(data, batch, dtype, with_stack, frames, divisor, training):
    samples = [data.draw(sample_results(dtype, with_stack, frames)) for _ in range(batch)]
    pack = PackDepthInputs()
    packed = []
    for results in samples:
        out = run_or_reject(lambda: pack(dict(results)), NAMES)
        if out is None:
            return
        img = out['inputs']['img']
        assert img.dim() == 3 and img.shape[1:] == results['img'].shape[:2]
        if 'stack' in out['inputs']:
            s = out['inputs']['stack']
            assert s.shape[0] == frames and s.shape[1:] == (3,) + results['img'].shape[:2]
            assert out['inputs']['stack_k'].shape == (frames,)
        if 'gt_depth' in results:
            gt = out['data_samples'].gt_depth.data
            assert gt.dtype == torch.float32 and gt.shape[-2:] == results['img'].shape[:2]
            if not has_nonfinite(results['gt_depth']):
                assert_finite('gt_depth', gt)
        packed.append(out)
    pre = DepthDataPreprocessor(pad_size_divisor=divisor)
    data_batch = dict(inputs=dict(), data_samples=[p['data_samples'] for p in packed])
    for key in packed[0]['inputs']:
        data_batch['inputs'][key] = [p['inputs'].get(key) for p in packed]
    if any(v is None for vals in data_batch['inputs'].values() for v in vals):
        return  # samples of one batch with different keys: the collate function's concern
    out = run_or_reject(lambda: pre(data_batch, training=training), NAMES)
    if out is None:
        return
    img = out['inputs']['img']
    hmax = max(r['img'].shape[0] for r in samples)
    wmax = max(r['img'].shape[1] for r in samples)
    assert img.dtype == torch.float32 and img.shape[:2] == (batch, 3)
    assert img.shape[2] % divisor == 0 and img.shape[3] % divisor == 0
    assert hmax <= img.shape[2] < hmax + divisor and wmax <= img.shape[3] < wmax + divisor
    if not has_nonfinite(*[r['img'] for r in samples]):
        assert_finite('img', img)
    if 'stack' in out['inputs']:
        stack = out['inputs']['stack']
        assert stack.shape == (batch, frames, 3) + tuple(img.shape[2:])
        if not has_nonfinite(*[r['bokeh_stack'] for r in samples]):
            assert_finite('stack', stack)
    if training:
        for sample in out['data_samples']:
            if 'gt_depth' in sample:
                assert tuple(sample.gt_depth.data.shape[-2:]) == tuple(img.shape[2:])
