"""Procedural surface materials for the synthetic scenes: flat (textureless), checker, stripes, value noise.

A material maps surface coordinates ``u``, ``v`` (M,) in metres to a linear-RGB albedo (3, M) in [0, 1].
"""
from dataclasses import dataclass, field
from typing import Sequence, Tuple

import numpy as np

KINDS = ('flat', 'checker', 'stripes', 'noise')
KIND_PROBS = (0.35, 0.2, 0.2, 0.25)


@dataclass
class Material:
    """A surface appearance: ``kind`` pattern blending ``color_a`` (pattern 0) and ``color_b`` (pattern 1)."""
    kind: str
    color_a: np.ndarray
    color_b: np.ndarray
    period: float = 0.3  # metres: checker cell, stripe period or noise cell
    angle: float = 0.0  # stripe direction, radians
    perm: np.ndarray = field(default_factory=lambda: np.arange(256))  # noise lattice hash
    values: np.ndarray = field(default_factory=lambda: np.zeros(256))  # noise lattice values

    def albedo(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Surface coordinates (M,) and (M,) in metres -> (3, M) albedo."""
        if self.kind == 'flat':
            return np.broadcast_to(self.color_a[:, None], (3, len(u)))
        u, v = u / self.period, v / self.period
        if self.kind == 'checker':
            pattern = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
        elif self.kind == 'stripes':
            phase = u * np.cos(self.angle) + v * np.sin(self.angle)
            pattern = (np.sin(2 * np.pi * phase) > 0).astype(np.float32)
        else:
            pattern = 0.6 * self._value_noise(u, v) + 0.4 * self._value_noise(2.7 * u + 5.3, 2.7 * v + 1.7)
        return self.color_a[:, None] + (self.color_b - self.color_a)[:, None] * pattern.astype(np.float32)

    def _value_noise(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Smooth value noise in [0, 1]: hashed lattice values, smoothstep-bilinear interpolation."""
        iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        fu, fv = u - iu, v - iv
        fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)

        def lattice(du: int, dv: int) -> np.ndarray:
            return self.values[self.perm[(self.perm[(iu + du) & 255] + iv + dv) & 255]]

        top = lattice(0, 0) + fu * (lattice(1, 0) - lattice(0, 0))
        bottom = lattice(0, 1) + fu * (lattice(1, 1) - lattice(0, 1))
        return top + fv * (bottom - top)


def _random_color(rng: np.random.Generator, saturation: Tuple[float, float],
                  value: Tuple[float, float]) -> np.ndarray:
    """A linear-RGB colour from a random hue and the given saturation/value ranges."""
    h, s, v = rng.random(), rng.uniform(*saturation), rng.uniform(*value)
    rgb = np.clip(np.abs((h * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)
    return (v * (1 - s + s * rgb)).astype(np.float32)


def check_kind_probs(kind_probs: Sequence[float], who: str = 'kind_probs') -> Tuple[float, ...]:
    """``kind_probs`` as a tuple of len(KINDS) non-negative floats summing to 1; ValueError naming ``who`` if not."""
    probs = tuple(float(p) for p in kind_probs)
    if len(probs) != len(KINDS) or min(probs) < 0 or abs(sum(probs) - 1) > 1e-6:
        raise ValueError(f'{who} must be {len(KINDS)} non-negative probabilities of {KINDS} summing to 1, '
                         f'got {tuple(kind_probs)}')
    return probs


def sample_material(rng: np.random.Generator, vivid: bool, kind_probs: Sequence[float] = KIND_PROBS) -> Material:
    """Draw a material; ``vivid`` gives saturated object colours, otherwise muted room colours; ``kind_probs`` are
    the probabilities of :data:`KINDS`. The number of draws from ``rng`` does not depend on ``kind_probs``."""
    sat = (0.3, 0.9) if vivid else (0.0, 0.35)
    kind = KINDS[rng.choice(len(KINDS), p=kind_probs)]
    color_a = _random_color(rng, sat, (0.35, 0.95))
    color_b = _random_color(rng, sat, (0.1, 0.9))
    return Material(kind=kind, color_a=color_a, color_b=color_b, period=float(rng.uniform(0.08, 0.5)),
                    angle=float(rng.uniform(0, np.pi)), perm=rng.permutation(256), values=rng.random(256))
