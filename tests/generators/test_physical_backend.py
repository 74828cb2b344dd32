"""Physical backend: reference frame, in-focus fidelity, blur growing with K, radius = K |1/d - 1/s| (closed form)."""
import numpy as np
import pytest

from mmbokeh.generators import PhysicalBackend, build_backend

K = np.array([0, 2, 4, 8, 16, 30], np.float32)
NEAR, FAR = 1.0, 4.0  # metres; focus on NEAR -> |1/FAR - 1/NEAR| = 0.75, radius = 0.75 K px


def _textured(h: int, w: int) -> np.ndarray:
    """Gratings of periods 6, 20 and 60 px (a blur of radius r < 36 px attenuates all of them more as r grows)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    v = sum(np.sin(2 * np.pi * (x / p + y / (1.7 * p))) for p in (6.0, 20.0, 60.0))
    img = (127.5 + 40 * v)[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _two_planes(h: int = 48, w: int = 192):
    """Left third in focus at NEAR, the rest at FAR."""
    depth = np.full((h, w), FAR, np.float32)
    depth[:, :w // 3] = NEAR
    return dict(img=_textured(h, w), gt_depth=depth), w // 3


@pytest.mark.parametrize('resolution', ['full', 'pyramid'])
def test_reference_frame_in_focus_pixels_and_monotonic_blur(resolution):
    results, edge = _two_planes()
    img = results['img']
    stack, k, source = PhysicalBackend(resolution=resolution).render(results, K, NEAR, np.random.default_rng(0))
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
    stack, _, _ = PhysicalBackend(resolution=resolution).render(results, ks, NEAR, np.random.default_rng(0))
    for frame, kk in zip(stack, ks):
        row = frame[h // 2, :, 0] / 200.0
        radius = ((row > 0.05) & (row < 0.95)).sum() / 1.61
        expected = kk * abs(1 / FAR - 1 / NEAR)
        assert abs(radius - expected) <= 0.15 * expected + 1, (kk, radius, expected)


def test_invalid_depth_is_treated_as_in_focus_and_float_images_keep_their_dtype():
    img = _textured(24, 32).astype(np.float32)
    results = dict(img=img, gt_depth=np.zeros((24, 32), np.float32))
    stack, _, _ = PhysicalBackend().render(results, np.array([10.0, 30.0], np.float32), 2.0, np.random.default_rng(0))
    assert stack.dtype == np.float32
    assert np.abs(stack - img).max() <= 1.0


def test_depth_from_another_key_is_recorded_and_gamma_keeps_flat_regions():
    img = np.full((16, 16, 3), 90, np.uint8)
    results = dict(img=img, pred_depth=np.linspace(1, 5, 256, dtype=np.float32).reshape(16, 16))
    backend = build_backend(dict(type='physical', depth_key='pred_depth', gamma=2.2))
    stack, _, source = backend.render(results, np.array([20.0], np.float32), 2.0, np.random.default_rng(0))
    assert source == 'physical:pred_depth'
    assert np.abs(stack.astype(int) - 90).max() <= 1  # a flat image stays flat whatever the blur


def test_errors_name_the_problem():
    results, _ = _two_planes(8, 12)
    with pytest.raises(KeyError, match='pred_depth'):
        PhysicalBackend(depth_key='pred_depth').render(results, K, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match='not aligned'):
        PhysicalBackend().render(dict(img=results['img'], gt_depth=np.ones((4, 4), np.float32)), K, 1.0,
                                 np.random.default_rng(0))
    with pytest.raises(ValueError, match='resolution'):
        PhysicalBackend(resolution='half')
    with pytest.raises(KeyError, match='unknown bokeh stack backend'):
        build_backend('optical')
