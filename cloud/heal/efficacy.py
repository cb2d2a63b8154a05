"""How sure the fleet is that a fix works: the Beta(1 + successes, 1 + failures)
posterior of its verified success rate, as a mean and a central credible interval.

A rate of "100 %" from one success and a rate of "100 %" from fifty are very different
evidence; the interval says so (one success: 22 % to 97 %, fifty: 94 % to 100 %). The
prior Beta(1, 1) is uniform: before any outcome every rate is equally plausible.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.special import betaincinv

__all__ = ["RateInterval", "credible_interval"]


@dataclass(frozen=True)
class RateInterval:
    mean: float
    low: float
    high: float


def credible_interval(successes: int, failures: int, mass: float = 0.9) -> RateInterval:
    """The posterior mean and the central ``mass`` interval of the success rate (each
    tail holds (1 - mass) / 2). Raises ValueError for negative counts or a mass outside
    (0, 1)."""
    if successes < 0 or failures < 0:
        raise ValueError("successes and failures cannot be negative")
    if not 0.0 < mass < 1.0:
        raise ValueError("mass must lie strictly between 0 and 1")
    alpha, beta = 1.0 + successes, 1.0 + failures
    tail = (1.0 - mass) / 2.0
    return RateInterval(
        mean=alpha / (alpha + beta),
        low=float(betaincinv(alpha, beta, tail)),
        high=float(betaincinv(alpha, beta, 1.0 - tail)),
    )
