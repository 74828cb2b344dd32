"""Focus choice: hand-worked values for each mode, determinism, errors."""
import numpy as np
import pytest

from mmbokeh.generators import focus_description, foreground_disparity, parse_focus, select_focus

RNG = np.random.default_rng


def test_median_disparity_by_hand():
    depth = np.array([[1.0, 2.0, 4.0], [0.0, np.nan, 2.0]], np.float32)  # invalid: 0 and NaN
    # valid disparities 1, .5, .25, .5 -> median .5 -> 2 m
    assert select_focus(parse_focus('median'), depth, RNG(0)) == pytest.approx(2.0)


def test_official_foreground_rule_by_hand():
    depth = np.arange(1, 101, dtype=np.float32).reshape(10, 10)
    # keep d <= 96th percentile (96.04): d = 1..96; disparities above their median (between 1/48 and 1/49) are
    # those of d = 1..48; their median is (1/24 + 1/25) / 2 -> focus 2 / (1/24 + 1/25) = 1200 / 49 m
    assert select_focus(parse_focus('foreground'), depth, RNG(0)) == pytest.approx(1200 / 49, rel=1e-5)
    mask = np.zeros((10, 10), np.uint8)
    mask[5:] = 255  # d = 51..100 only: near 51..98, disparities above the median -> d 51..74, median 62.5
    expected = 2 / (1 / 62 + 1 / 63)
    assert 1 / foreground_disparity(depth, mask) == pytest.approx(expected, rel=1e-5)
    assert select_focus(parse_focus('foreground'), depth, RNG(0), fg_mask=mask) == pytest.approx(expected, rel=1e-5)


def test_fixed_and_random_modes():
    assert select_focus(parse_focus(2.5), None, RNG(0)) == 2.5
    assert focus_description(parse_focus(dict(mode='fixed', distance=2.5))) == 'fixed:2.5'
    spec = parse_focus(dict(mode='random', range=(1.0, 5.0)))
    draws = [select_focus(spec, None, RNG(s)) for s in range(200)]
    assert 1.0 <= min(draws) and max(draws) <= 5.0
    assert select_focus(spec, None, RNG(7)) == select_focus(spec, None, RNG(7))
    # uniform in disparity: the median draw sits near 2 / (1/1 + 1/5) = 1.667 m, not at 3 m
    assert np.median(draws) == pytest.approx(1 / 0.6, rel=0.1)
    depth = np.linspace(1, 10, 100, dtype=np.float32).reshape(10, 10)
    within = [select_focus(parse_focus('random'), depth, RNG(s)) for s in range(50)]
    lo, hi = np.percentile(depth, [5, 95])
    assert lo - 1e-5 <= min(within) and max(within) <= hi + 1e-5


@pytest.mark.parametrize('spec, match', [(True, 'focus must be'), ('closest', 'mode must be'), (-1.0, 'positive'),
                                         (dict(mode='random', range=(3, 1)), 'near < far'), ([1, 2], 'focus must be')])
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_focus(spec)


def test_depth_needed():
    with pytest.raises(ValueError, match='needs a depth map'):
        select_focus(parse_focus('median'), None, RNG(0))
    with pytest.raises(ValueError, match='no valid pixel'):
        select_focus(parse_focus('foreground'), np.zeros((3, 3)), RNG(0))
