"""BokehStackGenerator: K specs, determinism, focus metadata, alignment with the geometric transforms, packing."""
import numpy as np
import pytest
import torch

from mmbokeh.datasets import SyntheticDefocusDataset
from mmbokeh.datasets.transforms import PackDepthInputs, RandomFlip
from mmbokeh.datasets.transforms.bokeh_stack import OFFICIAL_STACK_TOOL_K, BokehStackGenerator
from mmbokeh.generators import BokehBackend, RenderedStack, StackRequest, write_stack
from mmbokeh.registry import TRANSFORMS


@pytest.fixture(scope='module')
def scene():
    return SyntheticDefocusDataset(num_samples=3, img_size=(32, 40), seed=0).get_data_info(1)


def _copy(results):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in results.items()}


def test_fixed_k_outputs_and_metadata(scene):
    out = BokehStackGenerator(k_values=[0, 10, 20, 30], focus='median', seed=0)(_copy(scene))
    assert out['bokeh_stack'].shape == (4, 32, 40, 3) and out['bokeh_stack'].dtype == np.uint8
    np.testing.assert_array_equal(out['bokeh_stack'][0], scene['img'])
    assert out['bokeh_k'].dtype == np.float32 and out['bokeh_k'].tolist() == [0, 10, 20, 30]
    assert out['bokeh_source'] == 'physical:gt_depth' and out['bokeh_focus'] == 'median'
    assert out['focus_dist'] == pytest.approx(1 / np.median(1 / scene['gt_depth']), rel=1e-5)
    # more blur at larger K on average over the image
    dev = [np.abs(f.astype(int) - scene['img']).mean() for f in out['bokeh_stack']]
    assert dev[0] == 0 and dev[1] < dev[2] < dev[3]


def test_range_and_random_k(scene):
    even = BokehStackGenerator(k_range=(1, 30), num_k=3)(_copy(scene))
    np.testing.assert_allclose(even['bokeh_k'], [1, 15.5, 30])
    gen = BokehStackGenerator(k_range=(1, 30), num_k=5, random_k=True, seed=7)
    a = gen(_copy(scene))['bokeh_k']
    assert np.all((a >= 1) & (a <= 30)) and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(gen(_copy(scene))['bokeh_k'], a)  # a function of (seed, sample)
    other = _copy(scene)
    other['sample_idx'] = 2
    assert not np.array_equal(gen(other)['bokeh_k'], a)
    np.random.seed(0)
    free = BokehStackGenerator(k_range=(1, 30), num_k=5, random_k=True)
    b = free(_copy(scene))['bokeh_k']
    np.random.seed(0)
    np.testing.assert_array_equal(free(_copy(scene))['bokeh_k'], b)  # seed=None follows numpy's global state


def test_random_focus_is_deterministic_for_a_seed_and_float_images(scene):
    gen = BokehStackGenerator(k_values=[12.0], focus=dict(mode='random', range=(1.0, 4.0)), seed=1)
    a, b = gen(_copy(scene)), gen(_copy(scene))
    assert a['focus_dist'] == b['focus_dist'] and 1 <= a['focus_dist'] <= 4
    np.testing.assert_array_equal(a['bokeh_stack'], b['bokeh_stack'])
    flt = _copy(scene)
    flt['img'] = flt['img'].astype(np.float32)
    out = gen(flt)
    assert out['bokeh_stack'].dtype == np.float32
    np.testing.assert_allclose(out['bokeh_stack'], a['bokeh_stack'], atol=0.51)


def test_flip_after_generation_equals_generation_after_flip(scene):
    gen = BokehStackGenerator(k_values=list(OFFICIAL_STACK_TOOL_K[:3]), focus=2.0, seed=0)
    flip = RandomFlip(prob=1.0)
    a = flip(gen(_copy(scene)))
    b = gen(flip(_copy(scene)))
    assert a['bokeh_stack'].shape == b['bokeh_stack'].shape
    assert np.abs(a['bokeh_stack'].astype(int) - b['bokeh_stack']).max() <= 1  # the renderer is mirror-symmetric
    inputs = PackDepthInputs()(a)['inputs']  # the model-input contract: stack [S, 3, H, W] and stack_k [S]
    assert tuple(inputs['stack'].shape) == (3, 3, 32, 40) and inputs['stack'].dtype == torch.uint8
    torch.testing.assert_close(inputs['stack'], torch.from_numpy(a['bokeh_stack']).permute(0, 3, 1, 2))
    torch.testing.assert_close(inputs['stack_k'], torch.tensor([1.0, 6.0, 11.0]))


def test_cached_backend_selection_and_subsampling(tmp_path, scene):
    frames = np.stack([np.full((32, 40, 3), v, np.uint8) for v in (10, 20, 30, 40)])
    write_stack(tmp_path, 'train/000001', frames, [1, 6, 11, 16], dict(bokeh_source='diffusion:x'))
    backend = dict(type='cached', root=str(tmp_path))
    every = TRANSFORMS.build(dict(type='BokehStackGenerator', backend=backend))(_copy(scene))
    assert every['bokeh_k'].tolist() == [1, 6, 11, 16] and every['bokeh_source'] == 'cached:diffusion:x'
    assert 'focus_dist' not in every
    chosen = BokehStackGenerator(backend=backend, k_values=[16, 6])(_copy(scene))
    assert chosen['bokeh_stack'][:, 0, 0, 0].tolist() == [40, 20]
    sub = BokehStackGenerator(backend=backend, k_range=(5, 20), num_k=2, random_k=True, seed=0)(_copy(scene))
    assert len(sub['bokeh_k']) == 2 and set(sub['bokeh_k']) <= {6.0, 11.0, 16.0}
    np.testing.assert_array_equal(sub['bokeh_stack'][:, 0, 0, 0], sub['bokeh_k'] / 5 * 10 + 8)
    with pytest.raises(ValueError, match='only 3 stored frames'):
        BokehStackGenerator(backend=backend, k_range=(5, 20), num_k=4, random_k=True)(_copy(scene))


@pytest.mark.parametrize('kwargs, err, match', [
    (dict(), ValueError, 'set k_values or k_range'),
    (dict(k_values=[1], k_range=(1, 3)), ValueError, 'not both'),
    (dict(k_values=[-1.0]), ValueError, 'K >= 0'),
    (dict(k_values='10,20'), ValueError, 'BokehStackGenerator k_values must be a list of numbers'),
    (dict(k_values=[1], depth_key='pred_depth', backend=dict(type='physical', depth_key='gt_depth')), ValueError,
     'give the depth key once'),
    (dict(k_range=(5, 1), num_k=2), ValueError, 'lo <= hi'),
    (dict(k_range=(1, 5)), ValueError, 'num_k'),
    (dict(random_k=True, num_k=2), ValueError, 'needs k_range'),
    (dict(k_values=[1], focus='nearest'), ValueError, 'focus mode'),
])
def test_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        BokehStackGenerator(**kwargs)


def test_bad_inputs(scene):
    gen = BokehStackGenerator(k_values=[5.0])
    with pytest.raises(KeyError, match='img'):
        gen(dict(gt_depth=scene['gt_depth']))
    with pytest.raises(KeyError, match='gt_depth'):
        gen(dict(img=scene['img']))
    assert 'k=[5.0]' in repr(gen)
    with pytest.raises(ValueError, match=r'gt_depth \(16, 20\) is not aligned with img \(32, 40\)'):
        gen(dict(img=scene['img'], gt_depth=scene['gt_depth'][::2, ::2]))


def test_depth_key_is_the_transforms_and_recorded_in_the_source(scene):
    results = _copy(scene)
    results['pred_depth'] = results.pop('gt_depth')[..., None]  # (H, W, 1) is accepted too
    out = BokehStackGenerator(k_values=[10.0], focus='median', depth_key='pred_depth', seed=0)(_copy(results))
    assert out['bokeh_source'] == 'physical:pred_depth'
    reference = BokehStackGenerator(k_values=[10.0], focus='median', seed=0)(_copy(scene))
    np.testing.assert_array_equal(out['bokeh_stack'], reference['bokeh_stack'])
    assert out['focus_dist'] == reference['focus_dist']
    with pytest.warns(FutureWarning, match=r"write BokehStackGenerator\(depth_key='pred_depth'"):
        legacy = BokehStackGenerator(backend=dict(type='physical', depth_key='pred_depth'), k_values=[10.0],
                                     focus='median', seed=0)
    assert legacy.depth_key == 'pred_depth'
    legacy_out = legacy(_copy(results))
    assert legacy_out['bokeh_source'] == 'physical:pred_depth'
    np.testing.assert_array_equal(legacy_out['bokeh_stack'], out['bokeh_stack'])


class _Recorder(BokehBackend):
    """A backend that declares what it reads and records the requests it gets."""

    def __init__(self, needs_k=True, needs_depth=False, needs_focus=False, needs_meta=False):
        self.needs_k, self.needs_depth, self.needs_focus, self.needs_meta = (needs_k, needs_depth, needs_focus,
                                                                             needs_meta)
        self.requests = []

    def render(self, request: StackRequest) -> RenderedStack:
        self.requests.append(request)
        k = request.k_values if request.k_values is not None else np.array([3.0, 4.0, 5.0], np.float32)
        if request.selection is not None:
            k = k[request.selection.select(k, request.rng)]
        return RenderedStack(np.repeat(request.img[None], len(k), 0), k, 'test:recorder')


def test_the_request_carries_what_the_backend_declares(scene):
    plain = _Recorder()
    out = BokehStackGenerator(backend=plain, k_values=[2.0])(dict(img=scene['img'], img_path='a.png'))  # no depth
    req = plain.requests[0]
    assert req.k_values.tolist() == [2.0] and req.selection is None
    assert req.depth is None and req.depth_key is None and req.focus_dist is None and dict(req.meta) == {}
    assert out['bokeh_source'] == 'test:recorder' and 'focus_dist' not in out
    physical_like = _Recorder(needs_depth=True, needs_focus=True)
    BokehStackGenerator(backend=physical_like, k_values=[2.0], focus='median')(_copy(scene))
    req = physical_like.requests[0]
    np.testing.assert_array_equal(req.depth, scene['gt_depth'])
    assert req.depth_key == 'gt_depth' and req.focus_dist == pytest.approx(1 / np.median(1 / scene['gt_depth']))
    focus_only = _Recorder(needs_focus=True)  # reads the depth only for the focus, and only when present
    out = BokehStackGenerator(backend=focus_only, k_values=[2.0], focus=3.0)(dict(img=scene['img']))
    assert focus_only.requests[0].depth is None and out['focus_dist'] == 3.0 and out['bokeh_focus'] == 'fixed:3'
    stored = _Recorder(needs_k=False, needs_meta=True)
    out = BokehStackGenerator(backend=stored, k_values=[5.0, 3.0])(_copy(scene))
    req = stored.requests[0]
    assert req.k_values is None and req.selection.fixed().tolist() == [5.0, 3.0] and out['bokeh_k'].tolist() == [5, 3]
    assert req.meta['sample_idx'] == scene['sample_idx'] and 'img' not in req.meta and 'gt_depth' not in req.meta
