"""Online calibration of a raw anomaly feature into a surprise (−log10 tail probability).

Why: raw features (robust z, window means, residual norms) live on scales that differ per
stream, per metric and per feature. Turning each into "how rare is a value this large in
*this* stream's own recent history" gives one common scale, so that one global threshold
means the same false-alarm rate everywhere, and nothing has to be tuned per file.

The tail above the ``1 - tail_fraction`` quantile is modelled as exponential (the
peaks-over-threshold idea with a shape parameter of 0): it extrapolates beyond the largest
value seen, which an empirical quantile cannot do with a few hundred samples. The fit is
bounded by recurrence (a value exceeded ≥ 10 times in the history is at most as rare as
that count says: recurring spikes are normal for that stream) and refreshed every
``refit_every`` learned values from a ring buffer of the last ``history``
values, so the cost per sample is O(1) amortised and the result depends only on the
number and order of learned values (causal and deterministic).
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

__all__ = ["MAX_SURPRISE", "TailCalibrator"]

MAX_SURPRISE = 12.0
"""Cap on surprise: beyond one in 10^12 the exact figure carries no information."""

_LN10 = math.log(10.0)
_MIN_EXCEEDANCES = 25
_MIN_RECURRENCES = 10


class TailCalibrator:
    """Maps a non-negative feature value to a surprise in [0, MAX_SURPRISE].

    Below the tail threshold ``u`` the surprise rises linearly from 0 to
    ``-log10(tail_fraction)``; above it, ``-log10(tail_fraction) + (v - u) / (β ln 10)``
    with β the mean excess over ``u``. Until ``min_history`` values were learned the
    surprise is 0 (no evidence yet).
    """

    __slots__ = (
        "_base",
        "_buf",
        "_history",
        "_inv_beta",
        "_min_history",
        "_min_scale",
        "_n",
        "_n_fit",
        "_refit_every",
        "_tail_fraction",
        "_top",
        "_u",
    )

    def __init__(
        self,
        history: int = 3000,
        refit_every: int = 50,
        tail_fraction: float = 0.05,
        min_history: int = 100,
        min_scale: float = 0.0,
    ) -> None:
        if not 0.0 < tail_fraction < 1.0:
            raise ValueError("tail_fraction must be in (0, 1)")
        self._history = history
        self._refit_every = refit_every
        self._tail_fraction = tail_fraction
        self._min_history = min_history
        self._base = -math.log10(tail_fraction)
        self._buf = np.empty(history, dtype=np.float64)
        self._n = 0
        self._u = math.inf
        self._inv_beta = 0.0
        self._min_scale = min_scale
        self._top: list[float] = []
        self._n_fit = 0

    def seed(self, values: list[float]) -> None:
        """Learn a batch of values and fit at once (calibration from a warm-up sample)."""
        for v in values[: max(len(values) - self._history, 0)]:
            self.learn(v)
        for v in values[max(len(values) - self._history, 0) :]:
            self._buf[self._n % self._history] = v
            self._n += 1
        if self._n >= 2:
            self._refit()

    @property
    def ready(self) -> bool:
        """True once the tail has been fitted at least once."""
        return self._u != math.inf

    def surprise(self, value: float) -> float:
        """−log10 of the estimated probability of a value at least this large."""
        u = self._u
        if value != value:  # NaN: no evidence
            return 0.0
        if value <= u:
            if u == math.inf or u <= 0.0:
                return 0.0
            return self._base * value / u if value > 0.0 else 0.0
        s = self._base + (value - u) * self._inv_beta
        top = self._top
        k = len(top) - bisect_left(top, value)
        if k >= _MIN_RECURRENCES:
            # Values this large already recur in the stream's own history: the observed
            # frequency bounds how rare they can be, whatever the fitted tail says.
            s = min(s, -math.log10(k / self._n_fit))
        return s if s < MAX_SURPRISE else MAX_SURPRISE

    def learn(self, value: float) -> None:
        """Add one value to the history; refit the tail on schedule."""
        n = self._n
        self._buf[n % self._history] = value
        n += 1
        self._n = n
        if n >= self._min_history and (n == self._min_history or n % self._refit_every == 0):
            self._refit()

    def _refit(self) -> None:
        data = self._buf[: min(self._n, self._history)]
        n_tail = max(int(len(data) * self._tail_fraction), min(_MIN_EXCEEDANCES, len(data) // 5))
        k = len(data) - 1 - n_tail
        part = np.partition(data, k)
        u = float(part[k])
        self._base = -math.log10(n_tail / len(data))
        excess = part[k + 1 :] - u
        # Median excess / ln 2 estimates the exponential scale robustly: a handful of
        # absurd values (start-up transients, earlier incidents) cannot flatten the tail.
        beta = float(np.median(excess)) / math.log(2.0) if len(excess) else 0.0
        # A tail with no spread (constant feature) still needs a finite slope: any value
        # above it is then very surprising, which is the right answer for a stuck signal.
        floor = max(1e-6 * max(abs(u), 1e-3), self._min_scale)
        self._top = np.sort(part[k + 1 :]).tolist()
        self._n_fit = len(data)
        self._u = u
        self._inv_beta = 1.0 / (max(beta, floor) * _LN10)
