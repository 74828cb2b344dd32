"""KSelection: K to render, frames picked from a stored stack, the fixed K of the offline tool, errors."""
import numpy as np
import pytest

from mmbokeh.generators import KSelection

RNG = np.random.default_rng
STORED = np.array([1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0], np.float32)


def test_fixed_values_render_as_given_and_match_stored_frames_within_atol():
    sel = KSelection(k_values=[16, 6.0005])
    assert sel.renders
    np.testing.assert_array_equal(sel.request(RNG(0)), np.array([16, 6.0005], np.float32))
    np.testing.assert_array_equal(sel.fixed(), sel.request(RNG(1)))
    assert sel.select(STORED, RNG(0)).tolist() == [3, 1]  # the order asked, 6.0005 within k_atol=1e-3 of 6
    with pytest.raises(KeyError, match=r'scene/defocus_stack: no stored frame with K = 6\.0005'):
        KSelection(k_values=[6.0005], k_atol=1e-4).select(STORED, RNG(0), where='scene/defocus_stack')


def test_even_range():
    sel = KSelection(k_range=(1, 30), num_k=3)
    np.testing.assert_allclose(sel.request(RNG(0)), [1, 15.5, 30])
    np.testing.assert_allclose(sel.fixed(), [1, 15.5, 30])
    with pytest.raises(KeyError, match='K = 15.5'):
        sel.select(STORED, RNG(0))
    assert KSelection(k_range=(1, 11), num_k=3).select(STORED, RNG(0)).tolist() == [0, 1, 2]


def test_random_draws_are_sorted_in_range_and_a_function_of_the_generator():
    sel = KSelection(k_range=(5, 20), num_k=2, random_k=True)
    assert sel.fixed() is None and sel.renders
    a = sel.request(RNG(3))
    assert a.dtype == np.float32 and np.all((a >= 5) & (a <= 20)) and a[0] < a[1]
    np.testing.assert_array_equal(sel.request(RNG(3)), a)
    picks = {tuple(sel.select(STORED, RNG(s))) for s in range(60)}
    assert picks == {(1, 2), (1, 3), (2, 3)}  # every pair of the stored K in [5, 20] (6, 11, 16), sorted
    anywhere = KSelection(num_k=7, random_k=True)  # no range: any stored frame, only for stored stacks
    assert not anywhere.renders and anywhere.select(STORED, RNG(0)).tolist() == list(range(7))
    with pytest.raises(ValueError, match='set k_range'):
        anywhere.request(RNG(0))
    with pytest.raises(ValueError, match=r'num_k=4 but only 3 stored frames have K in \(5.0, 20.0\)'):
        KSelection(k_range=(5, 20), num_k=4, random_k=True).select(STORED, RNG(0))


def test_nothing_given_takes_every_stored_frame():
    sel = KSelection()
    assert sel.request(RNG(0)) is None and sel.fixed() is None and not sel.renders
    assert sel.select(STORED, RNG(0)).tolist() == list(range(7))
    assert repr(sel) == 'stored'


@pytest.mark.parametrize('kwargs, match', [
    (dict(k_values='10,20'), r"k_values must be a list of numbers K >= 0 .*got '10,20'"),
    (dict(k_values=[]), 'k_values must be a list of numbers'),
    (dict(k_values=[10, 'x']), 'k_values must be a list of numbers'),
    (dict(k_values=[True]), 'k_values must be a list of numbers'),
    (dict(k_values=[-1.0]), 'K >= 0'),
    (dict(k_values=[float('nan')]), 'K >= 0'),
    (dict(k_values=[1], k_range=(1, 3)), 'not both'),
    (dict(k_values=[1], num_k=2), 'not both'),
    (dict(k_range=(5, 1), num_k=2), r'k_range must be \(lo, hi\) numbers with 0 <= lo <= hi'),
    (dict(k_range='1,30', num_k=2), 'k_range must be'),
    (dict(k_range=(1, 2, 3), num_k=2), 'k_range must be'),
    (dict(k_range=(1, 5)), 'num_k must be a positive int'),
    (dict(k_range=(1, 5), num_k=0), 'num_k must be a positive int'),
    (dict(k_range=(1, 5), num_k=2.0), 'num_k must be a positive int'),
    (dict(num_k=3), 'num_k=3 needs k_range'),
    (dict(k_range=(1, 5), num_k=2, random_k='yes'), 'random_k must be True or False'),
    (dict(k_values=[1], k_atol=-1), 'k_atol must be a number >= 0'),
])
def test_errors_name_the_parameter_and_what_it_expects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KSelection(**kwargs)
