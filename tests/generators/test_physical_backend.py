"""Physical backend: reference frame, in-focus fidelity, blur growing with K, radius = K |1/d - 1/s| (closed form)."""
import numpy as np
import pytest

from mmbokeh.generators import PhysicalBackend, StackRequest, build_backend

K = np.array([0, 2, 4, 8, 16, 30], np.float32)
NEAR, FAR = 1.0, 4.0  # metres; focus on NEAR -> |1/FAR - 1/NEAR| = 0.75, radius = 0.75 K px


def _textured(h: int, w: int) -> np.ndarray:
    """Gratings of periods 6, 20 and 60 px (a blur of radius r < 36 px attenuates all of them more as r grows)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    v = sum(np.sin(2 * np.pi * (x / p + y / (1.7 * p))) for p in (6.0, 20.0, 60.0))
    img = (127.5 + 40 * v)[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _request(results: dict, k, focus: float, depth_key: str = 'gt_depth') -> StackRequest:
    return StackRequest(img=results['img'], rng=np.random.default_rng(0), k_values=np.asarray(k, np.float32),
                        depth=results[depth_key], depth_key=depth_key, focus_dist=focus)


def _two_planes(h: int = 48, w: int = 192):
    """Left third in focus at NEAR, the rest at FAR."""
    depth = np.full((h, w), FAR, np.float32)
    depth[:, :w // 3] = NEAR
    return dict(img=_textured(h, w), gt_depth=depth), w // 3


@pytest.mark.parametrize('resolution', ['full', 'pyramid'])
def test_reference_frame_in_focus_pixels_and_monotonic_blur(resolution):
    results, edge = _two_planes()
    img = results['img']
    stack, k, source = PhysicalBackend(resolution=resolution).render(_request(results, K, NEAR))
    assert stack.shape == (len(K), ) + img.shape and stack.dtype == np.uint8 and source == 'physical:gt_depth'
    np.testing.assert_array_equal(k, K)
    np.testing.assert_array_equal(stack[0], img)  # K = 0 is the input itself
    dev = np.abs(stack.astype(np.int16) - img.astype(np.int16))
    # in-focus pixels more than 2 px from the depth edge stay within 1/255 (the occlusion gate is soft for r < 2 px)
    assert dev[:, :, :edge - 2].max() <= 1
    off = dev[:, :, edge + 2:].reshape(len(K), -1).mean(1)
    assert np.all(np.diff(off) > 0.2), off  # blur at off-focus pixels grows strictly with K


@pytest.mark.parametrize('resolution', ['full', 'pyramid'])
def test_edge_spread_matches_thin_lens_radius(resolution):
    """A step edge on a plane at FAR, focus NEAR: the 5-95 % transition of a disc PSF of radius r is 1.61 r wide."""
    h, w = 64, 128
    img = np.zeros((h, w, 3), np.uint8)
    img[:, w // 2:] = 200
    results = dict(img=img, gt_depth=np.full((h, w), FAR, np.float32))
    ks = np.array([8, 16, 30], np.float32)
    stack, _, _ = PhysicalBackend(resolution=resolution).render(_request(results, ks, NEAR))
    for frame, kk in zip(stack, ks):
        row = frame[h // 2, :, 0] / 200.0
        radius = ((row > 0.05) & (row < 0.95)).sum() / 1.61
        expected = kk * abs(1 / FAR - 1 / NEAR)
        assert abs(radius - expected) <= 0.15 * expected + 1, (kk, radius, expected)


def test_invalid_depth_is_treated_as_in_focus_and_float_images_keep_their_dtype():
    img = _textured(24, 32).astype(np.float32)
    results = dict(img=img, gt_depth=np.zeros((24, 32), np.float32))
    stack, _, _ = PhysicalBackend().render(_request(results, [10.0, 30.0], 2.0))
    assert stack.dtype == np.float32
    assert np.abs(stack - img).max() <= 1.0


def test_uint16_images_keep_their_range():
    """A 16-bit image is blurred in its own range (0-65535), not clipped to 8-bit values: the stack of the image
    x 257 is the 8-bit stack x 257 up to rounding."""
    results, _ = _two_planes()
    stack8, _, _ = PhysicalBackend().render(_request(results, [0.0, 8.0, 30.0], NEAR))
    wide = dict(results, img=results['img'].astype(np.uint16) * 257)
    stack16, _, _ = PhysicalBackend().render(_request(wide, [0.0, 8.0, 30.0], NEAR))
    assert stack16.dtype == np.uint16 and stack16.max() > 255
    assert np.abs(stack16.astype(np.int64) - stack8.astype(np.int64) * 257).max() <= 257


def test_depth_from_another_key_is_recorded_and_gamma_keeps_flat_regions():
    img = np.full((16, 16, 3), 90, np.uint8)
    results = dict(img=img, pred_depth=np.linspace(1, 5, 256, dtype=np.float32).reshape(16, 16))
    backend = build_backend(dict(type='physical', gamma=2.2))
    stack, _, source = backend.render(_request(results, [20.0], 2.0, depth_key='pred_depth'))
    assert source == 'physical:pred_depth'
    assert np.abs(stack.astype(int) - 90).max() <= 1  # a flat image stays flat whatever the blur


def test_layered_occlusion_is_the_default_and_close_to_the_exact_gate():
    """The default occlusion='layered' (linear in the blur radius) renders within a few 8-bit levels of the exact
    per-pixel gate; both keep the in-focus side sharper than no occlusion does."""
    results, edge = _two_planes()
    request = _request(results, [8.0, 30.0], NEAR)
    assert PhysicalBackend().occlusion == 'layered' and PhysicalBackend(occlusion=True).occlusion == 'exact'
    layered = PhysicalBackend().render(request)[0].astype(int)
    exact = PhysicalBackend(occlusion='exact').render(request)[0].astype(int)
    plain = PhysicalBackend(occlusion=False).render(request)[0].astype(int)
    assert np.abs(layered - exact).max() <= 3 and np.abs(layered - exact).mean() < 0.1
    sharp = results['img'][:, :edge].astype(int)
    assert np.abs(plain[:, :, :edge] - sharp).mean() > 2 * np.abs(layered[:, :, :edge] - sharp).mean()
    with pytest.raises(ValueError, match='occlusion'):
        PhysicalBackend(occlusion='soft')
    with pytest.raises(ValueError, match='layer_width'):
        PhysicalBackend(layer_width=0)


def test_declares_what_it_reads():
    assert (PhysicalBackend.needs_k, PhysicalBackend.needs_depth, PhysicalBackend.needs_focus,
            PhysicalBackend.needs_meta) == (True, True, True, False)


def test_errors_name_the_problem():
    results, _ = _two_planes(8, 12)
    with pytest.raises(ValueError, match='depth_key'):
        StackRequest(img=results['img'], rng=np.random.default_rng(0), depth=results['gt_depth'])
    with pytest.raises(ValueError, match='needs k_values, focus_dist and depth'):
        PhysicalBackend().render(StackRequest(img=results['img'], rng=np.random.default_rng(0), k_values=K))
    with pytest.raises(ValueError, match='not aligned'):
        PhysicalBackend().render(_request(dict(img=results['img'], gt_depth=np.ones((4, 4), np.float32)), K, 1.0))
    with pytest.raises(ValueError, match='resolution'):
        PhysicalBackend(resolution='half')
    with pytest.raises(TypeError, match='depth_key'):  # moved to BokehStackGenerator(depth_key=...)
        PhysicalBackend(depth_key='pred_depth')


@pytest.mark.parametrize('scope', [None, 'mmbokeh', 'mmengine', 'not_a_package'])
@pytest.mark.parametrize('name', ['physical', 'mmbokeh.physical'])
def test_registry_builds_from_any_default_scope(scope, name):
    """BOKEH_BACKENDS is a child of mmbokeh's TASK_UTILS (under mmengine's root) and builds its own names whatever
    the default scope; so does the transform."""
    from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
    from mmengine.registry import DefaultScope

    from mmbokeh.datasets.transforms.bokeh_stack import BokehStackGenerator
    from mmbokeh.registry import BOKEH_BACKENDS, TASK_UTILS
    assert BOKEH_BACKENDS.parent is TASK_UTILS and BOKEH_BACKENDS.root is MMENGINE_TASK_UTILS
    with DefaultScope.overwrite_default_scope(scope):
        assert type(BOKEH_BACKENDS.build(dict(type=name, gamma=2.0))) is PhysicalBackend
        assert type(build_backend(name)) is PhysicalBackend
        assert type(BokehStackGenerator(backend=name, k_values=[1.0]).backend) is PhysicalBackend


def test_builder_errors():
    with pytest.raises(KeyError, match=r"unknown bokeh stack backend 'optical'; registered: \['cached', 'diffusion', "
                                       r"'physical'\]"):
        build_backend('optical')
    with pytest.raises(KeyError, match='unknown bokeh stack backend'):
        build_backend('mmdet.physical')  # another scope's name
    with pytest.raises(KeyError, match='needs a "type"'):
        build_backend(dict(gamma=2.0))
    with pytest.raises(TypeError, match='BokehBackend'):
        build_backend(object())  # a backend declares what it needs: duck-typed objects are refused


def test_registry_imports_the_backends_on_demand(tmp_path):
    """A fresh process: the registry's location imports mmbokeh.generators when a backend is built."""
    import subprocess
    import sys
    code = ("import sys; from mmbokeh.registry import BOKEH_BACKENDS; "
            "assert 'mmbokeh.generators' not in sys.modules; "
            "print(type(BOKEH_BACKENDS.build(dict(type='physical'))).__module__)")
    res = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ['mmbokeh.generators.physical']
