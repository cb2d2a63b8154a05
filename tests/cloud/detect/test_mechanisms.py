"""Mechanisms learned online from each stream, checked on synthetic series (no files).

Seasonality only when the stream has it, scale floors for flat/quantised streams,
recurrence-bounded tails, re-arming after calm, off-delay, and multivariate refits.
"""

from __future__ import annotations

import numpy as np

from cloud.detect import AlertPolicy, AlertState, MonitorConfig, PcaDetector, StreamMonitor
from cloud.detect.seasonal import SeasonalProfile
from cloud.detect.tail import TailCalibrator
from tests.cloud.detect.series import STEP_S, noise, seasonal, timestamps, with_step

DAY = 86_400.0


def learn_profile(values: np.ndarray) -> SeasonalProfile:
    prof = SeasonalProfile(DAY, STEP_S)
    t = timestamps(len(values))
    for i, v in enumerate(values):
        prof.learn(float(t[i]), float(v))
    return prof


def alerts_of(values: np.ndarray, seed_ts: np.ndarray | None = None) -> list[int]:
    mon = StreamMonitor(["v"])
    t = timestamps(len(values)) if seed_ts is None else seed_ts
    return [i for i, v in enumerate(values) if mon.update(float(t[i]), {"v": float(v)}).alerted]


def test_daily_pattern_is_detected_as_periodic() -> None:
    assert learn_profile(seasonal(288 * 4)).strong


def test_noise_and_random_walk_are_not_periodic() -> None:
    assert not learn_profile(noise(288 * 4)).strong
    walk = np.cumsum(noise(288 * 4, seed=2))
    assert not learn_profile(walk).strong


def test_noise_only_false_alarm_rate_is_low() -> None:
    found = alerts_of(noise(5000, seed=7) + 10.0)
    assert len(found) <= 5  # ~1e-3 per sample at most, with the re-arm suppression


def test_level_shift_alerts_once_then_rebaselines() -> None:
    x = with_step(2000, at=800, size=10.0)
    found = [i for i in alerts_of(x) if i >= 800]
    assert found
    assert found[0] < 805
    assert len([i for i in found if i > 850]) <= 1  # the new level is the new normal


def test_zero_inflated_stream_uses_a_scale_floor() -> None:
    rng = np.random.default_rng(4)
    x = np.where(rng.random(3000) < 0.1, rng.exponential(2.0, 3000), 0.0)
    mon = StreamMonitor(["v"])
    t = timestamps(3000)
    out = [mon.update(float(t[i]), {"v": float(x[i])}) for i in range(3000)]
    zs = [abs(c.z) for a in out for c in a.contributions if c.metric == "v"]
    assert max(zs, default=0.0) < 1e4  # not 1e10 deviations for a value of a few units
    assert sum(a.alerted for a in out[1000:]) <= 10


def test_recurring_extremes_are_not_extreme() -> None:
    cal = TailCalibrator(refit_every=50)
    rng = np.random.default_rng(0)
    for i in range(3000):
        cal.learn(50.0 if i % 100 == 0 else float(abs(rng.normal())))
    assert cal.surprise(50.0) < 3.0  # 30 times in 3000 samples: about 1 in 100
    assert cal.surprise(80.0) > 6.0  # larger than anything seen: still extreme


def test_flat_feature_has_a_finite_tail_slope() -> None:
    cal = TailCalibrator(min_scale=0.25)
    for _ in range(500):
        cal.learn(0.0)
    assert 0.0 < cal.surprise(0.5) < 4.0
    assert cal.surprise(10.0) >= 6.0


def test_alerts_rearm_only_after_calm() -> None:
    state = AlertState(AlertPolicy(threshold=3.0, release=1.5, rearm_samples=10))
    seq = [5.0] * 30 + [0.0] * 12 + [5.0]
    alerted = [state.step(s)[2] for s in seq]
    assert alerted[0]
    assert not any(alerted[1:30])
    assert alerted[-1]  # a new anomaly after a calm spell alerts again


def test_a_batch_of_decisions_is_the_same_as_one_at_a_time() -> None:
    """The scoring path decides a device's batch at once: same verdicts, same state after."""
    rng = np.random.default_rng(5)
    bursts = np.where(rng.random(3000) < 0.02, rng.uniform(3.0, 9.0, 3000), 0.0)
    surprises = (rng.exponential(0.6, 3000) + bursts).tolist()
    for policy in (AlertPolicy(), AlertPolicy(threshold=2.0, quiet_samples=5, hold_samples=3)):
        one, batched = AlertState(policy), AlertState(policy)
        singly = [one.step(s, 0.0) for s in surprises]
        together = [
            d for at in range(0, 3000, 7) for d in batched.step_many(surprises[at : at + 7])
        ]
        assert together == singly
        assert any(alerted for _, _, alerted in singly)
        assert [getattr(batched, k) for k in AlertState.__slots__] == [
            getattr(one, k) for k in AlertState.__slots__
        ]


def test_state_off_delay_holds_briefly() -> None:
    state = AlertState(AlertPolicy(state_threshold=2.5, state_release=1.5, hold_samples=5))
    flags = [state.step(0.0, 3.0)[1] for _ in range(100)]
    after = [state.step(0.0, 0.0)[1] for _ in range(10)]
    assert all(flags)
    assert after[:5] == [True] * 5
    assert not after[-1]


def test_state_opens_only_with_an_alert_by_default() -> None:
    """Windowed evidence below the alert bar may hold the state but never open it."""
    state = AlertState(AlertPolicy())
    below_alert = [state.step(2.0, 2.9)[1] for _ in range(200)]
    assert not any(below_alert)
    _, is_anomaly, alerted = state.step(4.0, 4.0)
    assert alerted
    assert is_anomaly
    held = [state.step(0.5, 2.0)[1] for _ in range(100)]
    assert all(held)  # the fault lasts: the averaged statistic keeps it on
    after = [state.step(0.5, 0.5)[1] for _ in range(30)]
    assert not after[-1]
    reopened = [state.step(2.0, 2.9)[1] for _ in range(100)]
    assert not any(reopened)  # a residual below the alert bar does not re-open it


def test_pca_rebaselines_after_a_lasting_change() -> None:
    """A new normal (a relationship changed by maintenance) is accepted after a while."""
    rng = np.random.default_rng(2)
    n = 4000
    a, c = rng.normal(0, 1, n), rng.normal(0, 1, n)
    b = a + rng.normal(0, 0.1, n)
    b[1000:] = -a[1000:] + rng.normal(0, 0.1, n - 1000)
    det = PcaDetector(("a", "b", "c"), warmup_samples=150)
    flagged = [max(det.step({"a": a[i], "b": b[i], "c": c[i]})) >= 2.5 for i in range(n)]
    assert np.mean(flagged[1000:1300]) > 0.9  # first reported
    assert det.refits > 0
    assert np.mean(flagged[-1000:]) < 0.3  # then the new normal


def test_pca_keeps_a_lasting_fault_flagged_within_refit_memory() -> None:
    rng = np.random.default_rng(5)
    n = 900
    load = rng.normal(0, 1, n)
    other = 2 * load + rng.normal(0, 0.1, n)
    other[600:] = -2 * load[600:] + rng.normal(0, 0.1, n - 600)
    mon = StreamMonitor(["load", "other"], MonitorConfig(warmup_samples=150))
    res = [mon.update(float(i), {"load": load[i], "other": other[i]}) for i in range(n)]
    assert np.mean([a.is_anomaly for a in res[650:]]) > 0.8
