"""StreamMonitor behaviour on synthetic faults: one alert per incident, explanations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.detect import Assessment, InvalidSample, MonitorConfig, StreamMonitor
from tests.cloud.detect.series import (
    seasonal,
    timestamps,
    with_drift,
    with_spike,
    with_step,
)


def monitor_run(values: np.ndarray, config: MonitorConfig | None = None) -> list[Assessment]:
    mon = StreamMonitor(["v"], config)
    t = timestamps(len(values))
    return [mon.update(float(t[i]), {"v": float(values[i])}) for i in range(len(values))]


def alerts(results: list[Assessment]) -> list[int]:
    return [i for i, a in enumerate(results) if a.alerted]


def test_spike_alerts_once_with_explanation() -> None:
    res = monitor_run(with_spike(800, at=600))
    found = alerts(res)
    assert 600 in found
    assert len(found) <= 2  # calibrated, not zero: a rare false alarm on pure noise is allowed
    top = res[600].contributions[0]
    assert top.metric == "v"
    assert top.z > 6.0
    assert res[600].score > 0.3


def test_step_alerts_at_the_change_and_not_per_sample() -> None:
    res = monitor_run(with_step(900, at=600))
    found = [i for i in alerts(res) if i >= 600]
    assert found
    assert found[0] in range(600, 605)
    assert len(found) <= 2


def test_fast_drift_is_reported() -> None:
    res = monitor_run(with_drift(1200, start=600, slope=0.5))
    assert any(600 <= i < 700 for i in alerts(res))


def test_seasonal_missing_peak_is_reported() -> None:
    n = 288 * 8
    broken = seasonal(n, missing_peak_day=6)
    missing = np.flatnonzero(np.abs(broken - seasonal(n)) > 10)
    found = alerts(monitor_run(broken))
    assert any(missing[0] <= i <= missing[-1] + 3 for i in found)
    assert len([i for i in found if 288 * 2 < i < missing[0]]) <= 1


def test_scores_in_unit_interval_and_quiet_on_noise() -> None:
    res = monitor_run(with_step(1500, at=1499))
    assert all(0.0 <= a.score <= 1.0 for a in res)
    assert len(alerts(res[:1499])) <= 1


def test_missing_values_carry_no_evidence() -> None:
    mon = StreamMonitor(["v"])
    for i in range(300):
        mon.update(i * 60.0, {"v": float(i % 3)})
    a = mon.update(300 * 60.0, {"v": math.nan})
    assert a.score == 0.0
    assert not a.is_anomaly
    assert mon.update(301 * 60.0, {}).score == 0.0


def test_non_finite_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidSample):
        StreamMonitor().update(math.nan, {"v": 1.0})


def test_multivariate_relationship_break_is_reported() -> None:
    rng = np.random.default_rng(3)
    n = 900
    load = rng.normal(0, 1, n).cumsum() * 0.05 + rng.normal(0, 1, n)
    other = 2 * load + rng.normal(0, 0.1, n)
    other[700:] = -2 * load[700:] + rng.normal(0, 0.1, n - 700)  # relation flips
    mon = StreamMonitor(["load", "other"], MonitorConfig(warmup_samples=400))
    res = [
        mon.update(i * 1.0, {"load": float(load[i]), "other": float(other[i])}) for i in range(n)
    ]
    late = [a.is_anomaly for a in res[720:]]
    assert np.mean(late) > 0.5
    assert any(c.detector.startswith("pca") for c in res[750].contributions)


def test_update_many_equals_update() -> None:
    values = with_spike(500, at=400)
    t = timestamps(500)
    one = StreamMonitor(["v"])
    many = StreamMonitor(["v"])
    expected = [one.update(float(t[i]), {"v": float(values[i])}) for i in range(500)]
    got = many.update_many((float(t[i]), {"v": float(values[i])}) for i in range(500))
    assert got == expected


def test_batches_of_any_size_equal_one_sample_at_a_time() -> None:
    """One kernel call per batch changes nothing: missing values, a metric that first
    appears late and batch boundaries anywhere give the same assessments."""
    n = 900
    t = timestamps(n)
    a, b = with_step(n, at=700), with_spike(n, at=750, seed=3)
    samples = []
    for i in range(n):
        x = {"a": float(a[i]) if i % 17 else math.nan}
        if i >= 300:  # first seen late: warms up on its own
            x["b"] = float(b[i])
        samples.append((float(t[i]), x))
    config = MonitorConfig(multivariate=False)
    one = StreamMonitor(config=config)
    expected = [one.update(ts, x) for ts, x in samples]
    many = StreamMonitor(config=config)
    got, start = [], 0
    for size in [1, 7, 150, 3, 400, 339]:
        got += many.update_many(samples[start : start + size])
        start += size
    assert got == expected
    assert any(r.alerted for r in expected[700:])

    columns = StreamMonitor(config=config)
    times = np.array([ts for ts, _ in samples])
    matrix = np.array([[x.get("a", math.nan), x.get("b", math.nan)] for _, x in samples])
    from_matrix = columns.update_columns(times[:500], ["a", "b"], matrix[:500])
    from_matrix += columns.update_columns(times[500:], ["b", "a"], matrix[500:, ::-1])
    assert from_matrix == expected, "a matrix in any column order is the same batch"
