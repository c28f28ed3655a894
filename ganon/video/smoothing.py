"""The One Euro filter (Casiez, Roussel and Vogel, CHI 2012), vectorised over arrays of any shape.

A low-pass filter whose cutoff rises with the signal's speed: slow jitter is removed (low cutoff),
fast motion is followed with little lag (high cutoff). Each element gets its own cutoff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    """``min_cutoff`` (Hz) sets smoothing at rest, ``beta`` how fast the cutoff grows with speed."""

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0  # cutoff (Hz) of the speed estimate itself


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filter a stream of same-shaped arrays sampled at ``rate`` Hz; ``reset`` forgets the past."""

    def __init__(self, config: OneEuroConfig, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.config = config
        self.dt = 1.0 / rate
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value, or None before the first sample."""
        return None if self._x is None else self._x.copy()

    def __call__(self, x: np.ndarray, *, steps: int = 1) -> np.ndarray:
        """Filter one sample; ``steps`` > 1 when samples were skipped (a longer time step)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"sample shape {x.shape} differs from the filter's {self._x.shape}")
        dt = self.dt * max(1, steps)
        speed = (x - self._x) / dt
        a_d = _alpha(self.config.d_cutoff, dt)
        self._dx = a_d * speed + (1 - a_d) * self._dx
        cutoff = self.config.min_cutoff + self.config.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


def smooth_series(values: np.ndarray, config: OneEuroConfig, rate: float) -> np.ndarray:
    """Filter a whole series (first axis is time) at once; a convenience for offline use and tests."""
    values = np.asarray(values, dtype=np.float64)
    filt = OneEuroFilter(config, rate)
    return np.stack([filt(v) for v in values]) if len(values) else values.copy()
