"""Which bokeh strengths K a sample gets: the one place that turns ``k_values`` / ``k_range`` + ``num_k`` /
``random_k`` into K values to render or into frames to take from a stored stack."""
import numbers
from typing import Optional, Sequence, Tuple

import numpy as np


def _k_list(value: Sequence[float]) -> np.ndarray:
    """``k_values`` as a (S,) float32 array; ``ValueError`` naming the parameter and what it expects."""
    expected = 'k_values must be a list of numbers K >= 0 (pixels x metres), e.g. [10.0, 20.0, 30.0]'
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f'{expected}; got {value!r}')
    items = list(np.asarray(value, dtype=object).reshape(-1))
    if not items or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items):
        raise ValueError(f'{expected}; got {value!r}')
    arr = np.asarray(items, dtype=np.float32)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f'{expected}; got {value!r}')
    return arr


def _k_range(value: Sequence[float]) -> Tuple[float, float]:
    expected = 'k_range must be (lo, hi) numbers with 0 <= lo <= hi, e.g. (1.0, 30.0)'
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f'{expected}; got {value!r}') from None
    if isinstance(value, (str, bytes)) or not 0 <= lo <= hi or not np.isfinite(hi):
        raise ValueError(f'{expected}; got {value!r}')
    return lo, hi


class KSelection:
    """The K of each sample, from one of:

    - ``k_values=[...]``: these values. A stored stack gives its frames whose K match them within ``k_atol``, in
      the order asked.
    - ``k_range=(lo, hi), num_k=n``: ``n`` values evenly spaced from lo to hi (matched like ``k_values``).
    - ``num_k=n, random_k=True`` (+ ``k_range``): ``n`` values drawn uniformly in the range, sorted; from a stored
      stack, ``n`` distinct stored frames with K in the range (any stored K without a range).
    - nothing: a stored stack's frames, all of them (renderers need K: :attr:`renders` is False).

    Args:
        k_values, k_range, num_k, random_k: see above.
        k_atol: tolerance when matching fixed K with stored K.
    """

    def __init__(self, k_values: Optional[Sequence[float]] = None, k_range: Optional[Sequence[float]] = None,
                 num_k: Optional[int] = None, random_k: bool = False, k_atol: float = 1e-3) -> None:
        if k_values is not None and (k_range is not None or random_k or num_k is not None):
            raise ValueError('give either k_values or k_range / num_k / random_k, not both; got '
                             f'k_values={k_values!r}, k_range={k_range!r}, num_k={num_k!r}, random_k={random_k!r}')
        if not isinstance(random_k, bool):
            raise ValueError(f'random_k must be True or False, got {random_k!r}')
        if (k_range is not None or random_k or num_k is not None) and (
                not isinstance(num_k, int) or isinstance(num_k, bool) or num_k < 1):
            raise ValueError(f'num_k must be a positive int with k_range / random_k, got {num_k!r}')
        if num_k is not None and k_range is None and not random_k:
            raise ValueError(f'num_k={num_k} needs k_range=(lo, hi) or random_k=True')
        if not isinstance(k_atol, numbers.Real) or not k_atol >= 0:
            raise ValueError(f'k_atol must be a number >= 0, got {k_atol!r}')
        self.k_values = None if k_values is None else _k_list(k_values)
        self.k_range = None if k_range is None else _k_range(k_range)
        self.num_k, self.random_k, self.k_atol = num_k, random_k, float(k_atol)

    @property
    def renders(self) -> bool:
        """True when :meth:`request` gives K values (a renderer can use this selection)."""
        return self.k_values is not None or self.k_range is not None

    def fixed(self) -> Optional[np.ndarray]:
        """The (S,) float32 K every sample gets, or None when K is drawn per sample or taken from storage."""
        if self.k_values is not None:
            return self.k_values.copy()
        if self.k_range is not None and not self.random_k:
            return np.linspace(*self.k_range, self.num_k, dtype=np.float32)
        return None

    def request(self, rng: np.random.Generator) -> Optional[np.ndarray]:
        """The (S,) float32 K to render for one sample; None: every stored frame (no K asked for)."""
        fixed = self.fixed()
        if fixed is not None:
            return fixed
        if self.k_range is None:
            if self.random_k:
                raise ValueError(f'random_k without k_range only draws among stored frames; set k_range=(lo, hi) '
                                 f'to render {self.num_k} random K')
            return None
        return np.sort(rng.uniform(*self.k_range, size=self.num_k)).astype(np.float32)

    def select(self, stored_k: np.ndarray, rng: np.random.Generator, where: str = 'stack') -> np.ndarray:
        """Indices of the frames to take from a stored stack whose frames have K ``stored_k`` (S,).

        Raises ``KeyError`` when a fixed K is not stored and ``ValueError`` when fewer than ``num_k`` frames qualify;
        ``where`` names the stack in those messages.
        """
        stored = np.asarray(stored_k, dtype=np.float32).reshape(-1)
        fixed = self.fixed()
        if fixed is not None:
            pick = []
            for want in fixed:
                hit = np.flatnonzero(np.abs(stored - want) <= self.k_atol)
                if hit.size == 0:
                    raise KeyError(f'{where}: no stored frame with K = {want:g} (k_atol={self.k_atol:g}; stored K: '
                                   f'{stored.tolist()})')
                pick.append(int(hit[0]))
            return np.asarray(pick, dtype=np.int64)
        if not self.random_k:
            return np.arange(len(stored))
        lo, hi = self.k_range if self.k_range is not None else (-np.inf, np.inf)
        eligible = np.flatnonzero((stored >= lo) & (stored <= hi))
        if self.num_k > len(eligible):
            raise ValueError(f'{where}: num_k={self.num_k} but only {len(eligible)} stored frames have K in '
                             f'{self.k_range or "any range"} (stored K: {stored.tolist()})')
        return np.sort(rng.choice(eligible, size=self.num_k, replace=False))

    def __repr__(self) -> str:
        if self.k_values is not None:
            return f'{self.k_values.tolist()}'
        if self.random_k:
            return f'random {self.num_k} in {self.k_range or "stored"}'
        return f'{self.num_k} in {self.k_range}' if self.k_range is not None else 'stored'


__all__ = ['KSelection']
