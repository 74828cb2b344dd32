"""Procedural materials: patterns land where their definitions say, and both textured and flat kinds occur."""
import numpy as np
import pytest

from mmbokeh.datasets.synthetic_textures import Material, check_kind_probs, sample_material

A = np.array([0.2, 0.3, 0.4], np.float32)
B = np.array([0.9, 0.8, 0.7], np.float32)


def test_checker_and_stripes():
    checker = Material('checker', A, B, period=0.5)
    out = checker.albedo(np.array([0.25, 0.75, 0.75, -0.25]), np.array([0.25, 0.25, 0.75, 0.25]))
    np.testing.assert_allclose(out.T, [A, B, A, B])  # cells alternate along u and v
    stripes = Material('stripes', A, B, period=1.0, angle=0.0)  # varies along u only
    out = stripes.albedo(np.array([0.25, 0.75, 0.25]), np.array([0.0, 0.0, 5.0]))
    np.testing.assert_allclose(out.T, [B, A, B])


def test_flat_and_noise():
    flat = Material('flat', A, B)
    np.testing.assert_allclose(flat.albedo(np.zeros(3), np.arange(3.0)).T, [A, A, A])
    noise = sample_material(np.random.default_rng(0), vivid=True)
    noise.kind = 'noise'
    u = np.linspace(0, 3, 200)
    out = noise.albedo(u, np.zeros_like(u))
    lo, hi = np.minimum(noise.color_a, noise.color_b), np.maximum(noise.color_a, noise.color_b)
    assert np.all(out >= lo[:, None] - 1e-6) and np.all(out <= hi[:, None] + 1e-6)  # a blend of the two colours
    assert np.abs(np.diff(out, axis=1)).max() < 0.2  # smooth at this sampling
    assert out.std(axis=1).max() > 0.01  # but not constant


def test_sampled_kinds_mix_textured_and_flat():
    rng = np.random.default_rng(1)
    kinds = [sample_material(rng, vivid=bool(i % 2)).kind for i in range(200)]
    assert {'flat', 'checker', 'stripes', 'noise'} == set(kinds)
    assert 0.2 < kinds.count('flat') / len(kinds) < 0.5


def test_kind_probs_choose_the_pattern_and_keep_the_draws_aligned():
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    only_checker = [sample_material(a, True, (0, 1, 0, 0)) for _ in range(20)]
    default = [sample_material(b, True) for _ in range(20)]
    assert {m.kind for m in only_checker} == {'checker'}
    for m, d in zip(only_checker, default):  # same colours and periods: only the pattern changed
        np.testing.assert_array_equal(m.color_a, d.color_a)
        assert m.period == d.period
    assert a.random() == b.random()


@pytest.mark.parametrize('probs', [(0.5, 0.5), (0.5, 0.5, 0.5, -0.5), (0.3, 0.3, 0.3, 0.3)])
def test_bad_kind_probs_are_named(probs):
    with pytest.raises(ValueError, match=r"render_scene kind_probs must be 4 non-negative probabilities"):
        check_kind_probs(probs, 'render_scene kind_probs')
