"""Thin-lens physics: SDNet eq. 2, K calibration, signed defocus and presets, against hand-worked numbers."""
import math

import numpy as np
import pytest
import torch

from mmbokeh.optics import (
    CAMERA_PRESETS,
    FOD500,
    NYUV2_FOCAL_STACK,
    coc_radius_px,
    depth_from_signed_defocus,
    get_camera_preset,
    k_from_camera,
    k_from_exif,
    sensor_width_from_exif,
    signed_defocus,
)


@pytest.mark.parametrize('focus', NYUV2_FOCAL_STACK.focus_distances)
def test_coc_is_zero_on_the_focus_plane(focus):
    assert NYUV2_FOCAL_STACK.coc_radius_px(focus, focus) == 0.0
    assert NYUV2_FOCAL_STACK.coc_radius_px(focus * 1.01, focus) > 0.0


# NYU preset: f = 50 mm, N = 8, p = 12 um, so f^2 / (N (s - f)) / (2 p) = 0.0025 / (8 (s - 0.05)) / 2.4e-5.
@pytest.mark.parametrize(
    'depth, focus, expected',
    [
        (2.0, 1.0, 0.5 * 0.0025 / 7.6 / 2.4e-5),  # |2-1|/2 = 0.5; 0.0025/7.6/2.4e-5 = 13.70614 -> 6.85307 px
        (10.0, 1.0, 0.9 * 0.0025 / 7.6 / 2.4e-5),  # 0.9 * 13.70614 = 12.33553 px
        (1.0, 6.0, 5.0 * 0.0025 / 47.6 / 2.4e-5),  # |1-6|/1 = 5; 0.0025/47.6/2.4e-5 = 2.188375 -> 10.94188 px
        (3.0, 2.5, (0.5 / 3.0) * 0.0025 / 19.6 / 2.4e-5),  # 0.1667 * 5.314626 = 0.885771 px
    ])
def test_coc_matches_hand_computed_eq2_for_nyu(depth, focus, expected):
    assert NYUV2_FOCAL_STACK.coc_radius_px(depth, focus) == pytest.approx(expected, rel=1e-12)
    literal = {(2.0, 1.0): 6.85307, (10.0, 1.0): 12.33553, (1.0, 6.0): 10.94188, (3.0, 2.5): 0.885771}
    assert NYUV2_FOCAL_STACK.coc_radius_px(depth, focus) == pytest.approx(literal[(depth, focus)], rel=1e-5)


def test_calibrated_k_reproduces_eq2():
    depth = np.linspace(0.5, 10.0, 20)
    for s in NYUV2_FOCAL_STACK.focus_distances:
        k = NYUV2_FOCAL_STACK.k(s)
        np.testing.assert_allclose(k * np.abs(1 / depth - 1 / s), NYUV2_FOCAL_STACK.coc_radius_px(depth, s),
                                   rtol=1e-12)
        assert k == pytest.approx(0.05**2 * s / (2 * 8 * (s - 0.05) * 1.2e-5))


# Numbers of the official BokehDepth Stage-1 formula (bokeh-generation/dataset/utils.py: calc_dof_cond with
# calc_sensor_width), evaluated once: (N, f_mm, f_35mm, s, W, H) -> K.
@pytest.mark.parametrize('args, expected', [
    ((1.8, 5.7, 26, 1.2, 4032, 3024), 4.817893080879266),
    ((2.8, 50, 75, 3.0, 6000, 4000), 113.48991116921086),
    ((8.0, 24, 24, 0.8, 1024, 1536), 1.5833812886562737),
])
def test_k_from_exif_matches_official_formula(args, expected):
    assert k_from_exif(*args) == pytest.approx(expected, rel=1e-12)


def test_k_from_exif_equals_k_from_camera_with_derived_pixel_pitch():
    n, f_mm, f35, s, w, h = 2.8, 50, 75, 3.0, 6000, 4000
    diag = 43.27 * f_mm / f35  # crop factor 1.5: 28.85 mm diagonal
    width_mm = diag / math.sqrt(1 + (h / w)**2)
    assert sensor_width_from_exif(f_mm, f35, w, h) == pytest.approx(width_mm)
    assert k_from_exif(n, f_mm, f35, s, w, h) == pytest.approx(k_from_camera(f_mm / 1000, n, s, width_mm / 1000 / w))


def test_signed_defocus_sign_and_magnitude():
    k = 20.0
    assert signed_defocus(1.0, 2.0, k) == pytest.approx(10.0)  # nearer than focus: positive
    assert signed_defocus(4.0, 2.0, k) == pytest.approx(-5.0)  # behind focus: negative
    assert signed_defocus(2.0, 2.0, k) == 0.0


def test_works_on_numpy_and_torch_with_gradients():
    d = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64, requires_grad=True)
    out = signed_defocus(d, 2.0, 10.0)
    out.sum().backward()
    np.testing.assert_allclose(d.grad.numpy(), -10.0 / d.detach().numpy()**2)
    coc = coc_radius_px(np.array([1.0, 3.0]), 2.0, 0.05, 8.0, 1.2e-5)
    assert isinstance(coc, np.ndarray) and coc.shape == (2, )


@pytest.mark.parametrize('kwargs, name', [
    (dict(focus_dist=0.04), 'focus_dist'),
    (dict(focus_dist=0.05), 'focus_dist'),
    (dict(f_number=0.0), 'f_number'),
    (dict(f_number=-2.0), 'f_number'),
    (dict(pixel_size=0.0), 'pixel_size'),
    (dict(depth=0.0), 'depth'),
    (dict(depth=np.array([1.0, -1.0])), 'depth'),
    (dict(depth=torch.tensor([1.0, float('nan')])), 'depth'),
    (dict(focal_length=-0.05), 'focal_length'),
])
def test_invalid_optics_raise_value_error_naming_the_parameter(kwargs, name):
    args = dict(depth=2.0, focus_dist=1.0, focal_length=0.05, f_number=8.0, pixel_size=1.2e-5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        coc_radius_px(**args)


def test_invalid_exif_and_defocus_inputs():
    with pytest.raises(ValueError, match='f_number'):
        k_from_exif(0.0, 50, 75, 3.0, 6000, 4000)
    with pytest.raises(ValueError, match='width'):
        k_from_exif(2.8, 50, 75, 3.0, 0, 4000)
    with pytest.raises(ValueError, match='focus_dist'):
        k_from_exif(2.8, 50, 75, 0.04, 6000, 4000)
    with pytest.raises(ValueError, match='k'):
        signed_defocus(1.0, 2.0, -1.0)
    with pytest.raises(ValueError, match='focus'):
        signed_defocus(1.0, 0.0, 1.0)
    with pytest.raises(TypeError, match='depth'):
        coc_radius_px('far', 1.0, 0.05, 8.0, 1.2e-5)


def test_presets():
    assert get_camera_preset('nyuv2') is NYUV2_FOCAL_STACK
    assert set(CAMERA_PRESETS) == {'nyuv2', 'fod500', 'defocusnet_dered'}
    assert NYUV2_FOCAL_STACK.focus_distances == (1.0, 1.5, 2.5, 4.0, 6.0)
    assert FOD500.focus_distances == (0.1, 0.15, 0.3, 0.7, 1.5)
    with pytest.raises(ValueError, match='nyuv2'):
        get_camera_preset('nyu')
    ks = NYUV2_FOCAL_STACK.k_values()
    assert len(ks) == 5 and all(a > b for a, b in zip(ks, ks[1:]))  # K falls as focus recedes
    big = NYUV2_FOCAL_STACK.rescaled(480, 640)  # twice the pixels: half the pitch, twice the blur in pixels
    assert big.coc_radius_px(3.0, 1.0) == pytest.approx(2 * NYUV2_FOCAL_STACK.coc_radius_px(3.0, 1.0))


def test_depth_from_signed_defocus_inverts_the_thin_lens():
    # NYU camera, focus 2 m: K = f^2 s / (2 N (s - f) p) = 0.05^2 * 2 / (2 * 8 * 1.95 * 12e-6) = 13.3547 px m
    k = torch.tensor(0.05**2 * 2 / (2 * 8 * 1.95 * 12e-6), dtype=torch.float64)
    depth = torch.tensor([0.5, 1.0, 2.0, 4.0, 9.0], dtype=torch.float64, requires_grad=True)
    coc = signed_defocus(depth, 2.0, k)  # 0.5 m: K (2 - 0.5) = 20.03 px in front
    assert math.isclose(float(coc[0]), float(k) * 1.5, rel_tol=1e-12)
    back = depth_from_signed_defocus(coc, torch.tensor(2.0, dtype=torch.float64), k, 0.1, 10.0)
    torch.testing.assert_close(back, depth.detach())
    # d d / d c = -d^2 / K (from 1/d = 1/s + c/K)
    c = coc.detach().requires_grad_(True)
    depth_from_signed_defocus(c, torch.tensor(2.0, dtype=torch.float64), k, 0.1, 10.0).sum().backward()
    torch.testing.assert_close(c.grad, -depth.detach()**2 / k)
    # beyond the range: clamped to the bounds, no inf or negative depth
    far = depth_from_signed_defocus(torch.tensor([-100.0, 1000.0]), torch.tensor(2.0), torch.tensor(13.35), 0.1, 10.0)
    assert far.tolist() == pytest.approx([10.0, 0.1])
    with pytest.raises(ValueError, match='min_depth'):
        depth_from_signed_defocus(coc, torch.tensor(2.0), k, 1.0, 0.5)
