"""A metric's trend as evidence of a fault: free memory draining away is a leak long
before it runs out. (The per-metric shape detectors that run on every metric, stuck
sensors and spikes, are compiled: :mod:`cloud.diagnosis.shapes`.)
"""

from __future__ import annotations

import math
from collections import deque

from cloud.detect.tail import TailCalibrator

UNUSUAL_TREND_SURPRISE = 3.0
"""Trends rarer than one in 10^3 are not learned from (they may be the fault)."""


class TrendTracker:
    """How unusual the recent trend of a metric is: the least-squares slope over the last
    ``window`` samples, standardised by this metric's own usual slopes and turned into a
    surprise (−log10 tail probability) by a tail fitted to its own history. A memory leak
    or a drifting sensor moves steadily where the metric normally wanders; the learned
    tail already holds the metric's daily swings and regime changes.

    O(1) per sample for the slope (running sums); learning pauses while the trend is
    unusual, so a long fault does not become the new normal."""

    def __init__(self, window: int = 60, learning_rate: float = 1 / 500) -> None:
        self.window = window
        self.learning_rate = learning_rate
        self.samples = 0
        self.mean_slope = 0.0
        self.slope_scale = 0.0
        self.tail = TailCalibrator(history=2000, refit_every=100)
        self._values: deque[float] = deque(maxlen=window)
        self._sum_y = 0.0
        self._sum_xy = 0.0
        n = window
        self._sum_x = n * (n - 1) / 2
        self._denominator = n * (n - 1) * (2 * n - 1) / 6 * n - self._sum_x**2

    def update(self, value: float) -> float:
        """Surprise of the current trend, signed by its direction (0 while learning)."""
        if len(self._values) == self.window:
            oldest = self._values[0]
            self._sum_xy += -(self._sum_y - oldest) + (self.window - 1) * value
            self._sum_y += value - oldest
        else:
            self._sum_xy += len(self._values) * value
            self._sum_y += value
        self._values.append(value)
        if len(self._values) < self.window:
            return 0.0
        slope = (self.window * self._sum_xy - self._sum_x * self._sum_y) / self._denominator
        z = (slope - self.mean_slope) / self.slope_scale if self.slope_scale > 0 else 0.0
        surprise = self.tail.surprise(abs(z))
        if surprise < UNUSUAL_TREND_SURPRISE:
            self.samples += 1
            rate = max(self.learning_rate, 1 / self.samples)
            self.mean_slope += rate * (slope - self.mean_slope)
            self.slope_scale += rate * (abs(slope - self.mean_slope) - self.slope_scale)
            self.tail.learn(abs(z))
        return math.copysign(surprise, z)
