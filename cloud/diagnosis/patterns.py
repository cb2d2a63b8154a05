"""Per-metric pattern detectors that name a fault rather than just flag one: a sensor that
repeats itself exactly, and a value that jumps out and straight back.

Both learn what is normal for their own stream (how often it repeats, how far it moves
from one sample to the next) and stop learning while they are flagging, so a stuck
sensor cannot teach them that being stuck is normal. Causal: each update sees only the
past and the present sample.
"""

from __future__ import annotations

import math
from collections import deque

WARMUP_SAMPLES = 60
CHANCE_RUN = 1e-6
"""A run of exact repeats is called stuck once chance would produce it this rarely."""


class RepeatTracker:
    """Scores how likely it is that a sensor is stuck (frozen on one exact value).

    It learns how often the stream repeats itself and how long its runs of repeats last,
    from runs that have ended only: a run still going on is the thing being judged.
    """

    def __init__(self, learning_rate: float = 1 / 200) -> None:
        self.learning_rate = learning_rate
        self.p_repeat = 0.0
        self.samples = 0
        self.run = 0
        self._continued = 0.0
        self._repeats = 0.0
        self._last: float | None = None

    @property
    def p_continue(self) -> float:
        """P(another repeat | in a run of repeats), from finished runs."""
        return self._continued / self._repeats if self._repeats >= 20 else 0.0

    def min_run(self) -> int:
        """Run length that chance alone produces with probability below CHANCE_RUN."""
        p = min(max(self.p_repeat, self.p_continue, 1e-3), 0.999)
        return max(4, math.ceil(math.log(CHANCE_RUN) / math.log(p)))

    def update(self, value: float) -> float:
        repeated = self._last is not None and value == self._last
        if not repeated and self.run > 0:
            decay = 1 - self.learning_rate
            self._continued = self._continued * decay + (self.run - 1)
            self._repeats = self._repeats * decay + self.run
        self.run = self.run + 1 if repeated else 0
        self._last = value
        if self.samples >= WARMUP_SAMPLES and self.run >= self.min_run():
            return min(1.0, self.run / (2 * self.min_run()))
        self.samples += 1
        rate = max(self.learning_rate, 1 / self.samples)  # a plain mean while young
        self.p_repeat += rate * (float(repeated) - self.p_repeat)
        return 0.0


class SpikeTracker:
    """Scores the recent rate of isolated spikes: x[t-1] far from both neighbours, which
    agree with each other. A step (a charging session starting) is not a spike."""

    def __init__(
        self, factor: float = 8.0, window: int = 30, learning_rate: float = 1 / 100
    ) -> None:
        self.factor = factor
        self.learning_rate = learning_rate
        self.mean_abs_diff = 0.0
        self.samples = 0
        self._recent: deque[float] = deque(maxlen=3)
        self._spikes: deque[bool] = deque(maxlen=window)

    def update(self, value: float) -> float:
        self._recent.append(value)
        spike = False
        if len(self._recent) == 3:
            before, peak, after = self._recent
            rise, fall = peak - before, peak - after
            excursion = min(abs(rise), abs(fall))
            spike = (
                self.samples >= WARMUP_SAMPLES
                and rise * fall > 0
                and excursion > self.factor * max(self.mean_abs_diff, 1e-9)
                and abs(after - before) < excursion / 3
            )
            if not spike:
                self.samples += 1
                rate = max(self.learning_rate, 1 / self.samples)
                self.mean_abs_diff += rate * (abs(after - peak) - self.mean_abs_diff)
        self._spikes.append(spike)
        return min(1.0, sum(self._spikes) / 2)
