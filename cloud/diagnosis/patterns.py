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

from cloud.detect.tail import TailCalibrator

WARMUP_SAMPLES = 60
CHANCE_RUN = 1e-6
RESTING_VALUES = 32
UNUSUAL_TREND_SURPRISE = 3.0
"""Trends rarer than one in 10^3 are not learned from (they may be the fault)."""


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
        self._resting: dict[float, int] = {}
        """Values the stream has rested on before (0 A while idle, a pinned 100 %)."""
        self.low = math.inf
        self.high = -math.inf
        """The range seen so far: a reading pinned at an end reached before is clamped
        (a speed at its 100 % limit), not frozen; a reading that froze at a new extreme
        is not."""
        self._seen = 0
        self._low_at = 0
        self._high_at = 0

    @property
    def run_start(self) -> int:
        """Index of the sample the current run of repeats started from."""
        return self._seen - self.run

    @property
    def p_continue(self) -> float:
        """P(another repeat | in a run of repeats), from finished runs."""
        return self._continued / self._repeats if self._repeats >= 20 else 0.0

    def min_run(self) -> int:
        """Run length that chance alone produces with probability below CHANCE_RUN.

        No floor beyond the chance bound itself: a stream that never repeats (a noisy
        float) is suspect after two repeats (p <= 1e-3 each), and a floor of four would
        only add delay to evidence already rarer than the bound."""
        p = min(max(self.p_repeat, self.p_continue, 1e-3), 0.999)
        return max(1, math.ceil(math.log(CHANCE_RUN) / math.log(p)))

    def update(self, value: float) -> float:
        repeated = self._last is not None and value == self._last
        if not repeated and self.run > 0:
            decay = 1 - self.learning_rate
            self._continued = self._continued * decay + (self.run - 1)
            self._repeats = self._repeats * decay + self.run
            self._remember_resting(self._last)
            self._learn(repeated=True)  # the run's first repeat, counted once it is over
        self.run = self.run + 1 if repeated else 0
        self._last = value
        self._seen += 1
        clamped = (value == self.high and self._high_at < self.run_start) or (
            value == self.low and self._low_at < self.run_start
        )
        resting = clamped or value == 0.0 or value in self._resting
        long_run = self.run >= 1 and self.run >= self.min_run()
        if self.samples >= WARMUP_SAMPLES and long_run and not resting:
            return min(1.0, self.run / (2 * self.min_run()))
        if value > self.high:
            self.high, self._high_at = value, self._seen
        if value < self.low:
            self.low, self._low_at = value, self._seen
        if not repeated:
            self._learn(repeated=False)
        return 0.0

    def _learn(self, repeated: bool) -> None:
        """One step of P(a run starts at a sample). A run in progress teaches nothing
        until it ends: it is the thing being judged, and its own first repeat would
        otherwise raise the bar it is judged against (a stream that never repeated
        would need three repeats instead of two)."""
        self.samples += 1
        rate = max(self.learning_rate, 1 / self.samples)  # a plain mean while young
        self.p_repeat += rate * (float(repeated) - self.p_repeat)

    def _remember_resting(self, value: float | None) -> None:
        if value is None:
            return
        self._resting[value] = self._resting.get(value, 0) + 1
        if len(self._resting) > RESTING_VALUES:
            rarest = min(self._resting, key=self._resting.__getitem__)
            del self._resting[rarest]


class SpikeTracker:
    """Finds isolated spikes: x[t-1] far from both neighbours, which agree with each
    other. A step (a charging session starting) is not a spike. ``observe`` says whether
    the previous sample was one; ``record`` keeps the verdict the caller accepts (a jump
    seen on several metrics at once is physics, not a faulty sensor) and returns the
    recent spike rate as a score."""

    def __init__(
        self, factor: float = 8.0, window: int = 30, learning_rate: float = 1 / 100
    ) -> None:
        self.factor = factor
        self.learning_rate = learning_rate
        self.mean_abs_diff = 0.0
        self.samples = 0
        self._recent: deque[float] = deque(maxlen=3)
        self._spikes: deque[bool] = deque(maxlen=window)
        self._peaks: deque[tuple[float, float]] = deque(maxlen=window)
        """(excursion, peak value) of the accepted spikes in the window."""
        self._last: tuple[float, float] = (0.0, math.nan)
        self.base_rate = 0.0
        """Accepted spikes per sample over the stream's life: some physics jumps too."""

    def observe(self, value: float) -> bool:
        self._recent.append(value)
        if len(self._recent) < 3:
            return False
        before, peak, after = self._recent
        rise, fall = peak - before, peak - after
        excursion = min(abs(rise), abs(fall))
        spike = (
            self.samples >= WARMUP_SAMPLES
            and rise * fall > 0
            and excursion > self.factor * max(self.mean_abs_diff, 1e-9)
            and abs(after - before) < excursion / 3
        )
        if spike:
            self._last = (excursion, peak)
        else:
            self.samples += 1
            rate = max(self.learning_rate, 1 / self.samples)
            self.mean_abs_diff += rate * (abs(after - peak) - self.mean_abs_diff)
        return spike

    @property
    def recent_count(self) -> int:
        """Accepted spikes in the window."""
        return len(self._peaks)

    @property
    def evidence_span(self) -> int:
        """Samples since the oldest accepted spike in the window, this one included: the
        stretch the recent spike count, and so the score, was gathered over."""
        for age, spike in enumerate(self._spikes):
            if spike:
                return len(self._spikes) - age
        return 1

    @property
    def recent_peak(self) -> float | None:
        """The value at the largest spike in the window: what a person wants to read,
        since the spike is only recognised one sample later, once it has come back."""
        if not self._peaks:
            return None
        return max(self._peaks)[1]

    def record(self, spike: bool) -> float:
        """Score the recent spike count against what this stream's own base rate makes
        likely (a Poisson bound), so a metric whose physics jumps now and then is not
        called faulty for it."""
        if len(self._spikes) == self._spikes.maxlen and self._spikes[0]:
            self._peaks.popleft()
        self._spikes.append(spike)
        if spike:
            self._peaks.append(self._last)
        count = sum(self._spikes)
        if self.samples >= WARMUP_SAMPLES:
            self.base_rate += self.learning_rate / 10 * (float(spike) - self.base_rate)
        expected = self.base_rate * len(self._spikes)
        bound = max(3.0, expected + 4 * math.sqrt(expected) + 1)
        return min(1.0, count / bound)


class CounterTracker:
    """Learns whether a metric is a counter (energy meters, run hours, uptime): one that
    goes up and never down, but for resets. A counter's level only grows, and its
    increments repeat what a rate metric already says (energy is the integral of power),
    so learned detectors leave counters out. The verdict is reached after warm-up and a few
    increases; a "counter" that goes on to fall more often than resets explain is
    revoked, once (a metric that wandered upwards through the whole warm-up), so the
    detectors' inputs change meaning at most once."""

    def __init__(self) -> None:
        self.samples = 0
        self.decreases = 0
        self.increases = 0
        self.is_counter: bool | None = None
        self._last: float | None = None

    def view(self, value: float) -> float | None:
        """The value for learned detectors, or None (a counter, or still undecided)."""
        last, self._last = self._last, value
        if last is None:
            return None
        if self.is_counter is not False:
            self.samples += 1
            self.decreases += value < last
            self.increases += value > last
            if self.is_counter is None:
                if self.samples >= WARMUP_SAMPLES and self.increases >= 5:
                    self.is_counter = self.decreases <= self.samples // 100
            elif self.decreases > self.samples // 100:
                # A slow wander (free heap rising for an hour) passes for a counter in
                # its first samples; one that then falls more often than resets allow
                # never was one. Revoked once, never re-granted.
                self.is_counter = False
        return value if self.is_counter is False else None


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
