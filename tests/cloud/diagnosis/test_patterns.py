"""Shape detectors on synthetic series: stuck sensors and isolated spikes."""

from __future__ import annotations

import random

from cloud.diagnosis.patterns import RepeatTracker, SpikeTracker


def _noisy(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [20 + rng.gauss(0, 0.3) for _ in range(n)]


def test_a_noisy_sensor_that_freezes_is_flagged_within_a_few_samples() -> None:
    tracker = RepeatTracker()
    assert max(tracker.update(v) for v in _noisy(300)) == 0.0
    frozen = [tracker.update(20.123) for _ in range(10)]
    first_flag = next(i for i, s in enumerate(frozen) if s > 0)
    assert first_flag <= 5
    assert frozen[-1] > 0.5


def test_a_metric_that_often_holds_still_is_not_called_stuck() -> None:
    tracker = RepeatTracker()
    rng = random.Random(2)
    values = [0.0 if rng.random() < 0.7 else rng.uniform(6, 16) for _ in range(2000)]
    assert max(tracker.update(v) for v in values) == 0.0


def test_isolated_spikes_are_flagged_but_a_step_is_not() -> None:
    tracker = SpikeTracker()

    def update(value: float) -> float:
        return tracker.record(tracker.observe(value))

    series = _noisy(300)
    assert max(update(v) for v in series) == 0.0
    step = [update(v + 15) for v in _noisy(50, seed=3)]
    assert max(step) == 0.0
    spiked = _noisy(40, seed=4)
    spiked[10] += 30
    spiked[18] += 30
    spiked[25] -= 30
    scores = [update(v + 15) for v in spiked]
    assert scores[11] > 0
    assert scores[26] >= 1.0
