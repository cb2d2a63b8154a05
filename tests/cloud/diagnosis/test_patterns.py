"""Shape detectors on synthetic series: stuck sensors and isolated spikes."""

from __future__ import annotations

import random

from cloud.diagnosis.patterns import CounterTracker, RepeatTracker, SpikeTracker


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


def test_a_sensor_that_never_repeated_is_stuck_after_two_repeats() -> None:
    """The chance bound alone sets the run (p <= 1e-3 per repeat, 1e-6 for two); the
    run's own first repeat must not raise the bar it is judged against."""
    tracker = RepeatTracker()
    for value in _noisy(300):
        tracker.update(value)
    scores = [tracker.update(20.123) for _ in range(3)]  # the frozen value, then repeats
    assert scores[:2] == [0.0, 0.0]
    assert scores[2] >= 0.5


def test_a_slow_wander_upwards_at_first_is_no_counter_once_it_falls() -> None:
    tracker = CounterTracker()
    rising = [1000.0 + i for i in range(80)]  # an hour of free heap creeping up
    falling = [1080.0 - i for i in range(10)]
    views = [tracker.view(v) for v in rising + falling]
    assert tracker.is_counter is False
    assert views[-1] == 1071.0  # learned detectors see it again


def test_a_counter_that_resets_now_and_then_stays_a_counter() -> None:
    tracker = CounterTracker()
    uptime = [60.0 * i for i in range(300)] + [60.0 * i for i in range(300)]  # one reboot
    views = [tracker.view(v) for v in uptime]
    assert tracker.is_counter is True
    assert all(v is None for v in views)
