"""Turning a fleet model's raw statistic into a normalised score in [0, 1].

Why: T² and SPE live on scales that differ per device model and per number of metrics.
The score says instead "what fraction of the healthy training fleet looked *less*
unusual than this sample" (the empirical CDF of the training statistic), so 0.995 means
the same thing for a heat pump and for an EV charger. Beyond the 99th percentile the
empirical CDF runs out of data, so the tail is modelled as exponential (peaks over
threshold with shape 0) and extrapolates past the largest training value instead of
saturating at exactly 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["TAIL_START", "TailCdf", "tail_surprise"]

TAIL_START = 0.99
"""Probability above which the exponential tail replaces the empirical CDF."""

_GRID = np.linspace(0.0, TAIL_START, 991)
_MIN_TAIL_P = 1e-12


class TailCdf:
    """Empirical CDF on a fixed probability grid plus an exponential upper tail.

    Immutable after construction; ``cdf`` is vectorised and allocation-light, so it adds
    little to batch scoring.
    """

    __slots__ = ("beta", "quantiles", "u")

    def __init__(self, quantiles: NDArray[np.float64], u: float, beta: float) -> None:
        if quantiles.shape != _GRID.shape:
            raise ValueError(f"expected {_GRID.size} quantiles, got {quantiles.shape}")
        if not beta > 0.0:
            raise ValueError("tail scale beta must be positive")
        self.quantiles = quantiles
        self.u = float(u)
        self.beta = float(beta)

    @classmethod
    def fit(cls, values: NDArray[np.float64]) -> TailCdf:
        """Learn the CDF of non-negative training statistics (at least one value)."""
        if values.size == 0:
            raise ValueError("cannot calibrate on no values")
        quantiles = np.quantile(values, _GRID)
        u = float(quantiles[-1])
        excess = values[values > u] - u
        spread = float(np.std(values)) or 1.0
        beta = float(excess.mean()) if excess.size else 0.0
        # A degenerate tail (ties, tiny samples) must still extrapolate sensibly.
        beta = max(beta, 1e-3 * spread, 1e-12)
        return cls(quantiles, u, beta)

    def cdf(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(healthy statistic ≤ value), monotone, continuous, in [0, 1 - 1e-12]."""
        body = np.interp(values, self.quantiles, _GRID, left=0.0, right=TAIL_START)
        beyond = values > self.u
        if not beyond.any():  # the usual batch: all within the body
            return body
        tail_p = (1.0 - TAIL_START) * np.exp(-(np.maximum(values, self.u) - self.u) / self.beta)
        tail = 1.0 - np.maximum(tail_p, _MIN_TAIL_P)
        return np.where(beyond, tail, body)

    def to_payload(self) -> dict[str, object]:
        return {"quantiles": self.quantiles, "u": self.u, "beta": self.beta}

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> TailCdf:
        quantiles = np.asarray(payload["quantiles"], dtype=np.float64)
        u = payload["u"]
        beta = payload["beta"]
        if not isinstance(u, float) or not isinstance(beta, float):
            raise ValueError("calibration u and beta must be floats")
        return cls(quantiles, u, beta)


def tail_surprise(
    values: NDArray[np.float64], u: NDArray[np.float64], beta: NDArray[np.float64]
) -> NDArray[np.float64]:
    """−log10 of the healthy share beyond each value under :class:`TailCdf`'s exponential
    tail, for many calibrations at once (column ``j`` of ``values`` against ``u[j]``,
    ``beta[j]``); 0 at or below the tail's start and where a value is NaN, at most 12.
    What a detector compares with its alert bar, which always lies in the tail: the
    body's surprises stay under 2, so they are not computed value by value."""
    with np.errstate(invalid="ignore"):
        beyond = values > u
        surprise = -np.log10(1.0 - TAIL_START) + (values - u) / (beta * np.log(10.0))
    return np.where(beyond, np.minimum(surprise, -np.log10(_MIN_TAIL_P)), 0.0)
