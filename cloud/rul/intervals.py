"""Prediction intervals for remaining life, calibrated on held-out units (conformal).

The cross-validated search already predicted every training row from a model that never
saw its unit. The errors of those predictions (truth minus prediction, the truth
*uncapped*) are what a new unit's errors look like, so their quantiles give the interval
(split conformal). Errors depend strongly on where a unit is in its life: near failure
the trees are precise to a few cycles, while a unit that still looks healthy may have
anything from the cap to a whole extra life left. So the errors are grouped by the size of
the prediction (Mondrian conformal, equal-count bins of the predicted life) and each bin
gets its own quantiles. The calibration points are the held-out rows weighted by the
questions a unit is asked (:func:`cloud.rul.truncation.calibration_weights`: every unit
counts the same, at uniformly random cuts), not every row of long runs.
"""

from __future__ import annotations

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


def calibrate_intervals(
    predicted: np.ndarray,
    truth: np.ndarray,
    coverage: float,
    weight: np.ndarray | None = None,
) -> IntervalTable:
    """Mondrian conformal quantiles of ``truth - predicted`` per bin of ``predicted``.

    ``weight``: each calibration point's weight (default: all equal); points of zero
    weight are left out. Bins hold equal weight.
    """
    w = np.ones(len(predicted)) if weight is None else np.asarray(weight, dtype=np.float64)
    keep = w > 0
    predicted, errors, w = predicted[keep], (truth - predicted)[keep], w[keep]
    bins = max(1, min(MAX_BINS, len(predicted) // MIN_PER_BIN))
    cuts = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique([_weighted_quantile(predicted, w, q) for q in cuts])
    which = np.searchsorted(edges, predicted, side="right")
    tail = (1.0 - coverage) / 2.0
    low = np.empty(len(edges) + 1)
    high = np.empty(len(edges) + 1)
    for b in range(len(edges) + 1):
        member = which == b
        if not member.any():
            member = np.ones(len(errors), dtype=bool)
        low[b], high[b] = _conformal_bounds(errors[member], w[member], tail)
    return IntervalTable(edges, low, high, coverage)


def _weighted_quantile(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative share of ``weight`` reaches ``q``."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weight[order]) / weight.sum()
    position = min(int(np.searchsorted(cumulative, q - 1e-12)), len(values) - 1)
    return float(values[order][position])


def _conformal_bounds(errors: np.ndarray, weight: np.ndarray, tail: float) -> tuple[float, float]:
    """Weighted conformal bounds: each tail holds at most ``tail`` of new errors."""
    return -_conformal_upper(-errors, weight, tail), _conformal_upper(errors, weight, tail)


def _conformal_upper(errors: np.ndarray, weight: np.ndarray, tail: float) -> float:
    """The split-conformal upper rank ``ceil((1 - tail)(n + 1))`` of ``n`` points, weighted.

    With weights ``n`` is the effective sample size ``(Σw)² / Σw²`` (rows of one unit are
    not independent draws, and unequal weights carry less information than equal ones);
    with equal weights this is exactly the unweighted conformal rank. Beyond the last
    point the bound is the largest error plus the errors' range.
    """
    n = float(weight.sum() ** 2 / np.sum(weight**2))
    q = (1.0 - tail) * (n + 1.0) / n
    if q > 1.0:
        return float(errors.max() + np.ptp(errors))
    return _weighted_quantile(errors, weight, q)


_STANDARD_NORMAL = NormalDist()


def _normal_cdf(z: float) -> float:
    return _STANDARD_NORMAL.cdf(z)


def _normal_quantile(p: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(p)
