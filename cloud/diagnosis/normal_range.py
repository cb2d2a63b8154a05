"""Where a metric usually sits: a streaming 5th-95th percentile band, learned from the
samples the diagnosis found normal.

Why percentiles and not mean ± k·σ: telemetry is skewed and multi-modal (a compressor at
rest and running), and a service engineer reads "normal is 2.1-3.0 A" as "most of the
time it is in there". The first :data:`EXACT_UNTIL` values are kept and the band is
exact; after that each bound follows a stochastic-approximation quantile update whose
step is scaled by the metric's own mean absolute deviation, so no constant depends on
the metric's units. Three numbers per bound, O(1) per sample.
"""

from __future__ import annotations

import math

EXACT_UNTIL = 50
LOW_Q = 0.05
HIGH_Q = 0.95
RATE = 0.05
"""Step of the quantile updates, in mean absolute deviations: small enough to sit still
on a stationary metric, large enough to follow a season within a few hundred samples."""


class NormalRange:
    """``learn(value)`` for normal samples; ``bounds()`` once enough were seen."""

    __slots__ = ("_dev", "_mean", "_seen", "high", "low", "n")

    def __init__(self) -> None:
        self.n = 0
        self.low = math.nan
        self.high = math.nan
        self._mean = 0.0
        self._dev = 0.0
        self._seen: list[float] | None = []

    def learn(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.n += 1
        alpha = max(1.0 / self.n, RATE)
        self._dev += alpha * (abs(value - self._mean) - self._dev)
        self._mean += alpha * (value - self._mean)
        if self._seen is not None:
            self._seen.append(value)
            if len(self._seen) >= EXACT_UNTIL:
                ordered = sorted(self._seen)
                self.low = _percentile(ordered, LOW_Q)
                self.high = _percentile(ordered, HIGH_Q)
                self._seen = None
            return
        step = RATE * self._dev
        self.low += step * (LOW_Q - (1.0 if value <= self.low else 0.0))
        self.high += step * (HIGH_Q - (1.0 if value <= self.high else 0.0))
        self.high = max(self.high, self.low)

    def bounds(self) -> tuple[float, float] | None:
        if self._seen is not None:
            if len(self._seen) < 10:
                return None
            ordered = sorted(self._seen)
            return _percentile(ordered, LOW_Q), _percentile(ordered, HIGH_Q)
        return self.low, self.high

    def distance(self, value: float) -> float:
        """How far outside the band ``value`` lies (0 inside; NaN while unknown)."""
        band = self.bounds()
        if band is None:
            return math.nan
        low, high = band
        return max(low - value, value - high, 0.0)


def _percentile(ordered: list[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
