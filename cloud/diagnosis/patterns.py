"""A metric's trend as evidence of a fault: free memory draining away is a leak long
before it runs out. (The per-metric shape detectors that run on every metric, stuck
sensors and spikes, are compiled: :mod:`cloud.diagnosis.shapes`.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cloud.detect.tail import new_tail_params, tail_learn, tail_row_len, tail_surprise

UNUSUAL_TREND_SURPRISE = 3.0
"""Trends rarer than one in 10^3 are not learned from (they may be the fault)."""
TAIL_HISTORY = 2000
TAIL_REFIT_EVERY = 100

# state columns
_SAMPLES, _MEAN_SLOPE, _SLOPE_SCALE, _COUNT, _HEAD, _SUM_Y, _SUM_XY = range(7)


class TrendTracker:
    """How unusual the recent trend of a metric is: the least-squares slope over the last
    ``window`` samples, standardised by this metric's own usual slopes and turned into a
    surprise (−log10 tail probability) by a tail fitted to its own history. A memory leak
    or a drifting sensor moves steadily where the metric normally wanders; the learned
    tail already holds the metric's daily swings and regime changes.

    O(1) per sample for the slope (running sums); learning pauses while the trend is
    unusual, so a long fault does not become the new normal. Compiled: a batch of a
    metric's values is one call."""

    def __init__(self, window: int = 60, learning_rate: float = 1 / 500) -> None:
        self.window = window
        self.learning_rate = learning_rate
        self.state = np.zeros(7)
        self.values = np.zeros(window)
        self.tail_par = new_tail_params(TAIL_HISTORY, TAIL_REFIT_EVERY, 0.05, 100, 0.0)
        self.tail = np.zeros(tail_row_len(TAIL_HISTORY, TAIL_REFIT_EVERY, 0.05))

    def restart_window(self) -> None:
        """Measure the slope afresh from the next value, keeping what was learned of the
        metric's usual slopes (a tail learned anew would take hours and, thin at first,
        would call ordinary wander a fault)."""
        self.state[[_COUNT, _HEAD, _SUM_Y, _SUM_XY]] = 0.0

    def update(self, value: float) -> float:
        """Surprise of the current trend, signed by its direction (0 while learning)."""
        return float(self.update_many(np.array([value]))[0])

    def update_many(self, values: np.ndarray, restarts: np.ndarray | None = None) -> np.ndarray:
        """:meth:`update` for each value in order, in one call. Where ``restarts`` is
        true the device restarted just before that value: the window starts afresh, so
        the step a restart makes (a freed heap) is not read as the trend after it, and a
        leak that resumes shows within one window. What was learned of usual slopes stays."""
        out = np.zeros(len(values))
        if restarts is None:
            restarts = np.zeros(len(values), dtype=np.bool_)
        _trends(
            values,
            restarts,
            self.window,
            self.learning_rate,
            self.state,
            self.values,
            self.tail,
            self.tail_par,
            out,
        )
        return out


@njit(cache=True)
def _trends(
    values: np.ndarray,
    restarts: np.ndarray,
    window: int,
    learning_rate: float,
    st: np.ndarray,
    ring: np.ndarray,
    tail: np.ndarray,
    par: np.ndarray,
    out: np.ndarray,
) -> None:
    sum_x = window * (window - 1) / 2
    denominator = window * (window - 1) * (2 * window - 1) / 6 * window - sum_x**2
    for s in range(values.shape[0]):
        value = values[s]
        if restarts[s]:
            st[_COUNT], st[_HEAD], st[_SUM_Y], st[_SUM_XY] = 0.0, 0.0, 0.0, 0.0
        count = int(st[_COUNT])
        if count == window:
            head = int(st[_HEAD])
            oldest = ring[head]
            st[_SUM_XY] += -(st[_SUM_Y] - oldest) + (window - 1) * value
            st[_SUM_Y] += value - oldest
            ring[head] = value
            st[_HEAD] = (head + 1) % window
        else:
            st[_SUM_XY] += count * value
            st[_SUM_Y] += value
            ring[count] = value
            count += 1
            st[_COUNT] = count
        if count < window:
            out[s] = 0.0
            continue
        slope = (window * st[_SUM_XY] - sum_x * st[_SUM_Y]) / denominator
        scale = st[_SLOPE_SCALE]
        z = (slope - st[_MEAN_SLOPE]) / scale if scale > 0 else 0.0
        surprise = tail_surprise(tail, par, abs(z))
        if surprise < UNUSUAL_TREND_SURPRISE:
            st[_SAMPLES] += 1
            rate = max(learning_rate, 1 / st[_SAMPLES])
            st[_MEAN_SLOPE] += rate * (slope - st[_MEAN_SLOPE])
            st[_SLOPE_SCALE] += rate * (abs(slope - st[_MEAN_SLOPE]) - st[_SLOPE_SCALE])
            tail_learn(tail, par, abs(z))
        out[s] = math.copysign(surprise, z)
