"""Prediction intervals for remaining life, calibrated on held-out units (conformal).

The cross-validated search already predicted every training row from a model that never
saw its unit. The errors of those predictions (truth minus prediction, the truth
*uncapped*) are what a new unit's errors look like, so their quantiles give the interval
(split conformal). Errors depend strongly on where a unit is in its life: near failure
the trees are precise to a few cycles, while a unit that still looks healthy may have
anything from the cap to a whole extra life left. So the errors are grouped by the size of
the prediction (Mondrian conformal, equal-count bins of the predicted life) and each bin
gets its own quantiles. Every row of a held-out unit is a calibration point: a unit in
service can be asked about at any age.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["IntervalTable", "RulPrediction", "calibrate_intervals"]

MAX_BINS = 6
MIN_PER_BIN = 50
"""Fewer calibration errors than this per bin make its outer quantiles mostly noise."""


@dataclass(frozen=True)
class RulPrediction:
    """A unit's remaining life: a central estimate and an interval of nominal coverage.

    ``median`` is the model's point estimate (the figure RMSE is computed on); ``low`` and
    ``high`` bound the remaining life with probability ``coverage`` as calibrated on
    held-out units. All in the runs' time unit.
    """

    median: float
    low: float
    high: float
    coverage: float

    def chance_within(self, horizon: float) -> float:
        """P(failure within ``horizon`` time units from now), from the three quantiles.

        A split normal through them: the lower half spreads so that ``low`` is its
        ``(1 - coverage) / 2`` quantile, the upper half so that ``high`` is its
        ``(1 + coverage) / 2`` quantile, and ``median`` is the 0.5 quantile. Monotone in
        ``horizon``, 0 for a horizon below zero, in [0, 1].
        """
        if horizon < 0:
            return 0.0
        z = _normal_quantile((1.0 + self.coverage) / 2.0)
        below = horizon < self.median
        spread = (self.median - self.low if below else self.high - self.median) / z
        if spread <= 0.0:
            return 0.0 if below else 1.0
        return _normal_cdf((horizon - self.median) / spread)


@dataclass(frozen=True)
class IntervalTable:
    """Per bin of predicted life: the error quantiles to add to a prediction."""

    edges: np.ndarray
    """Inner bin edges, ascending (``len(low_offsets) - 1`` of them)."""
    low_offsets: np.ndarray
    high_offsets: np.ndarray
    coverage: float

    def interval(self, predicted: float) -> RulPrediction:
        """The prediction with its interval; never below zero, always around the median."""
        b = int(np.searchsorted(self.edges, predicted, side="right"))
        low = max(0.0, min(predicted, predicted + float(self.low_offsets[b])))
        high = max(predicted, predicted + float(self.high_offsets[b]))
        return RulPrediction(predicted, low, high, self.coverage)


def calibrate_intervals(predicted: np.ndarray, truth: np.ndarray, coverage: float) -> IntervalTable:
    """Mondrian split-conformal quantiles of ``truth - predicted`` per bin of ``predicted``."""
    bins = max(1, min(MAX_BINS, len(predicted) // MIN_PER_BIN))
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)[1:-1]))
    which = np.searchsorted(edges, predicted, side="right")
    errors = truth - predicted
    tail = (1.0 - coverage) / 2.0
    low = np.empty(len(edges) + 1)
    high = np.empty(len(edges) + 1)
    for b in range(len(edges) + 1):
        member = errors[which == b]
        low[b], high[b] = _conformal_bounds(member if member.size else errors, tail)
    return IntervalTable(edges, low, high, coverage)


def _conformal_bounds(errors: np.ndarray, tail: float) -> tuple[float, float]:
    """The finite-sample conformal ranks: each tail holds at most ``tail`` of new errors."""
    n = errors.size
    ordered = np.sort(errors)
    lower_rank = math.floor(tail * (n + 1))
    upper_rank = math.ceil((1.0 - tail) * (n + 1))
    low = ordered[lower_rank - 1] if lower_rank >= 1 else ordered[0] - np.ptp(ordered)
    high = ordered[upper_rank - 1] if upper_rank <= n else ordered[-1] + np.ptp(ordered)
    return float(low), float(high)


_STANDARD_NORMAL = NormalDist()


def _normal_cdf(z: float) -> float:
    return _STANDARD_NORMAL.cdf(z)


def _normal_quantile(p: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(p)
