"""Shared strategies and the property every fuzz test checks (see ``tests/fuzz/conftest.py`` for the seed policy)."""
from typing import Callable, Iterable, Optional, Tuple

import numpy as np
import torch
from hypothesis import strategies as st

#: Exceptions a component may raise on a bad input; anything else fails the test.
ALLOWED = (ValueError, KeyError, TypeError)

SUPPORTED_NP = ('uint8', 'uint16', 'float32', 'float64')
UNSUPPORTED_NP = ('int64', 'bool', 'float16')
NP_DTYPES = st.sampled_from(SUPPORTED_NP * 3 + UNSUPPORTED_NP)
SPECIALS = (float('nan'), float('inf'), -float('inf'))


def np_array(draw, shape: Tuple[int, ...], dtype: str, lo: float = 0.0, hi: float = 255.0,
             special_prob: float = 0.0) -> np.ndarray:
    """A random array from a seed drawn by hypothesis (cheap for hypothesis to shrink); floats may get a NaN/inf."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dt, np.integer):
        hi = min(hi, np.iinfo(dt).max)
        return rng.integers(int(lo), int(hi) + 1, size=shape).astype(dt)
    arr = rng.uniform(lo, hi, size=shape).astype(dt)
    if arr.size and draw(st.floats(0, 1)) < special_prob:
        n = draw(st.integers(1, max(1, arr.size)))
        idx = rng.choice(arr.size, size=min(n, arr.size), replace=False)
        arr.reshape(-1)[idx] = draw(st.sampled_from(SPECIALS))
    return arr


def has_nonfinite(*arrays) -> bool:
    for a in arrays:
        if a is None:
            continue
        if isinstance(a, torch.Tensor):
            if a.is_floating_point() and not bool(torch.isfinite(a).all()):
                return True
            continue
        a = np.asarray(a)
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            return True
    return False


def assert_finite(name: str, x) -> None:
    if isinstance(x, torch.Tensor):
        ok = not x.is_floating_point() or bool(torch.isfinite(x).all())
    else:
        x = np.asarray(x)
        ok = not np.issubdtype(x.dtype, np.floating) or bool(np.isfinite(x).all())
    assert ok, f'{name} is not finite although every input was'


def run_or_reject(fn: Callable, names: Iterable[str], valid: Optional[bool] = None):
    """Call ``fn``: return its result, or ``None`` when it raised an allowed exception whose message names one of
    ``names`` (the offending input or parameter). ``valid=True`` forbids an exception, ``valid=False`` demands one.
    Any other exception type propagates and fails the test."""
    try:
        out = fn()
    except ALLOWED as err:
        msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        assert valid is not True, f'valid input rejected: {type(err).__name__}: {msg}'
        assert any(n in msg for n in names), f'{type(err).__name__} names none of {list(names)}: {msg}'
        return None
    assert valid is not False, 'invalid input accepted'
    return out
