"""Shape detectors on synthetic series: stuck sensors, isolated spikes and trends."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cloud.diagnosis.patterns import TrendTracker
from cloud.diagnosis.shapes import BatchShapes, ShapeBank


def _noisy(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [20 + rng.gauss(0, 0.3) for _ in range(n)]


def _run(bank: ShapeBank, series: list[float]) -> BatchShapes:
    bank.columns(["m"])
    return bank.observe(np.array(series, dtype=np.float64).reshape(-1, 1))


def test_a_noisy_sensor_that_freezes_is_flagged_within_a_few_samples() -> None:
    bank = ShapeBank()
    assert _run(bank, _noisy(300)).stuck.max() == 0.0
    frozen = _run(bank, [20.123] * 10).stuck[:, 0]
    first_flag = next(i for i, s in enumerate(frozen) if s > 0)
    assert first_flag <= 5
    assert frozen[-1] > 0.5


def test_a_metric_that_often_holds_still_is_not_called_stuck() -> None:
    rng = random.Random(2)
    values = [0.0 if rng.random() < 0.7 else rng.uniform(6, 16) for _ in range(2000)]
    assert _run(ShapeBank(), values).stuck.max() == 0.0


def test_isolated_spikes_are_flagged_but_a_step_is_not() -> None:
    bank = ShapeBank()
    assert _run(bank, _noisy(300)).spike.max() == 0.0
    assert _run(bank, [v + 15 for v in _noisy(50, seed=3)]).spike.max() == 0.0
    spiked = [v + 15 for v in _noisy(40, seed=4)]
    spiked[10] += 30
    spiked[18] += 30
    spiked[25] -= 30
    found = _run(bank, spiked)
    scores = found.spike[:, 0]
    assert scores[11] > 0
    assert scores[26] >= 1.0
    assert found.spike_count[26, 0] == 3
    assert found.spike_peak[26, 0] in {spiked[10], spiked[18], spiked[25]}  # a spike's own value


def test_a_counter_is_recognised_and_hidden_from_learned_detectors() -> None:
    bank = ShapeBank()
    bank.columns(["energy_kwh", "temp_c"])
    rows = [[100.0 + 0.1 * i, 20.0 + (i % 7) * 0.1] for i in range(200)]
    found = bank.observe(np.array(rows))
    assert bank.counters() == {"energy_kwh"}
    assert np.isnan(found.view[-1, 0])
    assert found.view[-1, 1] == rows[-1][1]


def test_a_batch_gives_what_samples_one_by_one_give() -> None:
    rng = random.Random(5)
    rows = np.array([[rng.gauss(0, 1), round(rng.gauss(5, 1), 1)] for _ in range(400)])
    rows[300:310, 0] = rows[299, 0]  # stuck
    rows[350, 1] += 40.0  # spike
    whole, single = ShapeBank(), ShapeBank()
    whole.columns(["a", "b"])
    single.columns(["a", "b"])
    batch = whole.observe(rows)
    for s in range(len(rows)):
        one = single.observe(rows[s : s + 1])
        assert np.array_equal(one.stuck[0], batch.stuck[s])
        assert np.array_equal(one.spike[0], batch.spike[s])


def test_a_sensor_that_never_repeated_is_stuck_after_two_repeats() -> None:
    """The chance bound alone sets the run (p <= 1e-3 per repeat, 1e-6 for two); the
    run's own first repeat must not raise the bar it is judged against."""
    bank = ShapeBank()
    _run(bank, _noisy(300))
    scores = _run(bank, [20.123] * 3).stuck[:, 0]  # the frozen value, then repeats
    assert list(scores[:2]) == [0.0, 0.0]
    assert scores[2] >= 0.5


def test_a_slow_wander_upwards_at_first_is_no_counter_once_it_falls() -> None:
    bank = ShapeBank()
    rising = [1000.0 + i for i in range(80)]  # an hour of free heap creeping up
    falling = [1080.0 - i for i in range(10)]
    found = _run(bank, rising + falling)
    assert bank.counters() == set()
    assert found.view[-1, 0] == 1071.0  # learned detectors see it again


def test_a_counter_that_resets_now_and_then_stays_a_counter() -> None:
    bank = ShapeBank()
    uptime = [60.0 * i for i in range(300)] + [60.0 * i for i in range(300)]  # one reboot
    found = _run(bank, uptime)
    assert bank.counters() == {"m"}
    assert np.isnan(found.view).all()


def test_a_spike_finding_spans_the_samples_since_its_oldest_spike() -> None:
    bank = ShapeBank()
    _run(bank, _noisy(300))
    spiked = _noisy(20, seed=7)
    spiked[5] += 30
    spiked[12] += 30
    found = _run(bank, spiked)
    assert found.spike_span[13, 0] == 8  # the spike at 5 is recognised at 6: samples 6..13


def test_a_restarted_trend_window_measures_afresh_but_keeps_the_usual_slopes() -> None:
    """After a firmware update the slope is measured from the next sample on, while
    what the metric's slopes usually are stays learned: a tail learned anew from a
    few hours would call ordinary wander a leak."""
    tracker = TrendTracker()
    tracker.update_many(np.array(_noisy(3000)))
    before = tracker.state.copy()
    tracker.restart_window()
    after = tracker.update_many(np.array(_noisy(tracker.window, seed=2)))
    assert np.all(after[: tracker.window - 1] == 0.0), "no slope until the window refills"
    assert abs(after[-1]) < 3.0, "ordinary wander right after it is not unusual"
    assert tracker.state[0] > before[0], "the count of slopes learned carries on"
    assert tracker.state[1:3].tolist() == pytest.approx(before[1:3].tolist(), rel=0.05)
