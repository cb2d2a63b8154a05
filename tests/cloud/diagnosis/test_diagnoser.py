"""A device's diagnosis on synthetic series: each fault shape gets its own signature, and
normal behaviour (resting values, counters, physics moving several metrics at once,
daily cycles) gets none."""

from __future__ import annotations

import math
import random

import pytest

from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.profiles import ModelProfile, profile_for
from cloud.incidents.tracker import Finding
from cloud.learning import FleetModel

T0 = 1_767_225_600.0
STEP_S = 60.0


def _run(
    diagnoser: DeviceDiagnoser, rows: list[dict[str, float]], start: int = 0
) -> list[dict[str, Finding]]:
    return [diagnoser.observe(T0 + (start + i) * STEP_S, row) for i, row in enumerate(rows)]


def _healthy(n: int, seed: int = 1) -> list[dict[str, float]]:
    """A daily temperature cycle with noise, an idle/charging current, a counter and
    free memory that wanders around a level."""
    rng = random.Random(seed)
    rows = []
    energy = 1000.0
    for i in range(n):
        hour = (i * STEP_S / 3600) % 24
        charging = hour >= 18 or hour < 6
        current = 16 + rng.gauss(0, 0.2) if charging else 0.0
        energy += current * 230 / 1000 / 60
        rows.append(
            {
                "temp_c": 20 + 5 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 0.3),
                "current_a": current,
                "energy_kwh": energy,
                "mem_free_kb": 700 + rng.gauss(0, 8),
            }
        )
    return rows


def _signatures(results: list[dict[str, Finding]]) -> set[str]:
    return {s for findings in results for s, f in findings.items() if f.score >= 0.5}


def test_a_healthy_device_gives_no_findings_once_it_has_seen_a_day() -> None:
    diagnoser = DeviceDiagnoser(profile_for(None))
    results = _run(diagnoser, _healthy(3 * 1440))
    assert _signatures(results[1440:]) == set()


def test_a_frozen_sensor_inside_its_range_is_named_stuck() -> None:
    diagnoser = DeviceDiagnoser(profile_for(None))
    rows = _healthy(800)
    _run(diagnoser, rows[:700])
    frozen = [dict(row, temp_c=rows[699]["temp_c"]) for row in rows[700:]]
    results = _run(diagnoser, frozen, start=700)
    first = next(i for i, f in enumerate(results) if "sensor-stuck/temp_c" in f)
    assert first <= 6
    assert results[first]["sensor-stuck/temp_c"].explanation["detector"] == "repeat"


def test_isolated_spikes_are_named_but_a_step_on_every_metric_is_not() -> None:
    diagnoser = DeviceDiagnoser(profile_for(None))
    rows = _healthy(1000)
    _run(diagnoser, rows[:600])
    spiky = [dict(r) for r in rows[600:700]]
    for i in (10, 20, 30, 40):
        spiky[i]["temp_c"] += 40
    found = _run(diagnoser, spiky, start=600)
    assert "spike/temp_c" in _signatures(found)
    spike_findings = [f["spike/temp_c"] for f in found if "spike/temp_c" in f]
    fresh = [f for f in spike_findings if f.fresh]
    assert 1 <= len(fresh) <= 4 < len(spike_findings), "only the spikes' own samples are new"
    together = [dict(r) for r in rows[700:800]]
    for i in (10, 20, 30, 40):
        together[i] = {k: v * 3 for k, v in together[i].items()}
    assert not any(s.startswith("spike/") for s in _signatures(_run(diagnoser, together, 700)))


def test_draining_memory_is_named_a_leak_by_the_profile() -> None:
    diagnoser = DeviceDiagnoser(profile_for("heatpump-hp200"))
    rows = _healthy(1200)
    _run(diagnoser, rows[:900])
    leaking = [
        dict(r, mem_free_kb=700 - 2.5 * i + random.Random(i).gauss(0, 8))
        for i, r in enumerate(rows[900:1150])
    ]
    results = _run(diagnoser, leaking, start=900)
    first = next(i for i, f in enumerate(results) if "memory-leak/firmware" in f)
    assert first < 120, "found well before memory runs out (at about 280 samples)"


def _leaking_after_restart(restart_at: int, n: int) -> list[dict[str, float]]:
    """Healthy for 900 samples with an uptime counter, then a leak; at ``restart_at``
    the firmware restarts (uptime falls, the heap is freed) and the leak goes on."""
    rows = [dict(r, uptime_s=60.0 * i) for i, r in enumerate(_healthy(n))]
    for i in range(900, n):
        since = i - 900 if i < restart_at else i - restart_at
        rows[i]["mem_free_kb"] = 700 - 2.5 * since + random.Random(i).gauss(0, 8)
        if i >= restart_at:
            rows[i]["uptime_s"] = 60.0 * (i - restart_at)
    return rows


def test_a_leak_that_survives_a_restart_is_found_again_within_one_trend_window() -> None:
    """A restart frees the heap whatever the cause: the trend must judge what follows it,
    not the jump, or a restart that fixed nothing would pass for a cure."""
    diagnoser = DeviceDiagnoser(profile_for("heatpump-hp200"))
    rows = _leaking_after_restart(1100, 1300)
    results = _run(diagnoser, rows)
    assert "memory-leak/firmware" in _signatures(results[900:1100]), "found before the restart"
    after = [i for i, f in enumerate(results[1100:]) if "memory-leak/firmware" in f]
    assert after, "the leak that goes on after the restart is found again"
    assert after[0] >= 30, "the trend from before the restart is not carried past it"
    assert after[0] <= 80, f"within about one trend window (60 samples), not {after[0]}"


def test_a_link_that_keeps_dropping_is_flapping() -> None:
    diagnoser = DeviceDiagnoser(ModelProfile(model="x"))
    rows = _healthy(10)
    for k in range(3):
        diagnoser.observe_link(T0 + k * 60, online=False)
    finding = diagnoser.observe(T0 + 200, rows[0])["connectivity/flapping"]
    assert finding.score == 1.0
    assert finding.explanation["drops_last_hour"] == 3
    assert "connectivity/flapping" not in diagnoser.observe(T0 + 2 * 3600, rows[1])


def test_old_drops_keep_flapping_reported_but_only_a_new_drop_is_fresh_evidence() -> None:
    """After a radio reset, the drops of the last hour say nothing of whether it worked."""
    diagnoser = DeviceDiagnoser(ModelProfile(model="x"))
    rows = _healthy(10)
    for k in range(3):
        diagnoser.observe_link(T0 + k * 60, online=False)
    assert diagnoser.observe(T0 + 200, rows[0])["connectivity/flapping"].fresh
    carried = diagnoser.observe(T0 + 260, rows[1])["connectivity/flapping"]
    assert carried.score == 1.0
    assert not carried.fresh
    diagnoser.observe_link(T0 + 300, online=False)
    assert diagnoser.observe(T0 + 320, rows[2])["connectivity/flapping"].fresh


def test_a_hard_limit_names_its_fault_at_once() -> None:
    diagnoser = DeviceDiagnoser(profile_for("evcharger-ec11"))
    findings = diagnoser.observe(T0, {"connector_temp_c": 95.0, "current_a": 16.0})
    assert findings["overheat/connector"].explanation["detector"] == "limit"


def test_missing_and_non_finite_metrics_are_ignored() -> None:
    diagnoser = DeviceDiagnoser(profile_for(None))
    _run(diagnoser, _healthy(200))
    assert diagnoser.observe(T0 + 201 * STEP_S, {"temp_c": math.nan}) == {}
    assert diagnoser.observe(T0 + 202 * STEP_S, {}) == {}


def test_actuators_pinned_together_are_a_controller_at_its_limits_not_stuck() -> None:
    diagnoser = DeviceDiagnoser(profile_for(None))
    rng = random.Random(5)
    rows = [
        {"speed_pct": 60 + rng.gauss(0, 5), "pump_pct": 50 + rng.gauss(0, 4)} for _ in range(300)
    ]
    rows += [{"speed_pct": 100.0, "pump_pct": 80.0} for _ in range(30)]
    assert not any(s.startswith("sensor-stuck/") for s in _signatures(_run(diagnoser, rows)))


def test_a_firmware_update_is_a_new_normal_not_a_leak() -> None:
    """A rollout that uses 6 % more memory steps free memory down once: the learned
    baseline would call that a leak on every updated device, unless the new version
    resets what it learned."""
    rows = _healthy(2 * 1440 + 400)
    stepped = [dict(row, mem_free_kb=row["mem_free_kb"] * 0.94) for row in rows[2 * 1440 :]]

    def leaks(told_of_update: bool) -> set[str]:
        diagnoser = DeviceDiagnoser(profile_for(None))
        diagnoser.observe_firmware("1.0", T0)
        _run(diagnoser, rows[: 2 * 1440])
        if told_of_update:
            diagnoser.observe_firmware("1.1", T0 + 2 * 1440 * STEP_S)
        results = _run(diagnoser, stepped, start=2 * 1440)
        return {s for s in _signatures(results) if s.startswith("memory-leak")}

    assert leaks(told_of_update=False) == {"memory-leak/firmware"}
    assert leaks(told_of_update=True) == set()


def test_a_state_the_fleet_knows_is_no_fault_though_the_device_rarely_saw_it() -> None:
    """Its own baselines call a first 32 A charge a deviation; the fleet model, which has
    seen many chargers at 32 A, finds the sample ordinary, so nothing is named."""
    rows = _healthy(3 * 1440, seed=3)
    fast = [dict(row, current_a=row["current_a"] * 2) for row in rows[2 * 1440 :]]
    fleet_rows = [r for seed in (4, 5) for r in _healthy(2 * 1440, seed=seed)]
    fleet_rows += [dict(r, current_a=r["current_a"] * 2) for r in _healthy(2 * 1440, seed=6)]
    model = FleetModel.fit("charger", fleet_rows)

    def named(fleet_model: FleetModel | None) -> set[str]:
        diagnoser = DeviceDiagnoser(profile_for(None), lambda: fleet_model)
        _run(diagnoser, rows[: 2 * 1440])
        return _signatures(_run(diagnoser, fast, start=2 * 1440))

    assert any("current_a" in s for s in named(None))
    assert named(model) == set()


def test_a_batch_gives_the_findings_of_its_samples_one_by_one() -> None:
    """The scoring worker hands over batches; their size must not change a finding."""
    rows = _healthy(1700)
    for i in range(1500, 1520):
        rows[i]["temp_c"] = rows[1499]["temp_c"]  # stuck
    rows[1600]["mem_free_kb"] += 400.0  # a spike
    rows[1650]["temp_c"] = math.nan
    del rows[1660]["mem_free_kb"]  # a reading that did not come
    rows[1662]["humidity_pct"] = 40.0  # a metric first sent late, then every time
    for row in rows[1663:]:
        row["humidity_pct"] = 41.0
    one_by_one = _run(DeviceDiagnoser(profile_for(None)), rows)
    batched = DeviceDiagnoser(profile_for(None))
    stamped = [(T0 + i * STEP_S, row) for i, row in enumerate(rows)]
    in_batches = [
        f for s in range(0, len(rows), 7) for f in batched.observe_many(stamped[s : s + 7])
    ]
    assert in_batches == one_by_one
    assert any("sensor-stuck/temp_c" in f for f in in_batches)


def test_a_fault_that_lasts_stays_found_while_its_incident_holds_the_baseline() -> None:
    """A shifted reading becomes the device's new normal within hours, unless the
    open incident holds that metric's baseline: then it is found until it ends."""
    rows = _healthy(1500 + 720)
    shifted = [dict(r, temp_c=r["temp_c"] + 8) for r in rows[1500:]]
    found_late = {}
    for held in (False, True):
        diagnoser = DeviceDiagnoser(profile_for(None))
        _run(diagnoser, rows[:1500])
        results: list[dict[str, Finding]] = []
        open_incidents: set[str] = set()  # what the tracker would hold open
        for i, row in enumerate(shifted):
            results.append(diagnoser.observe(T0 + (1500 + i) * STEP_S, row))
            if held:
                open_incidents |= _signatures(results[-1:])
                diagnoser.hold(open_incidents)
        found_late[held] = sum(1 for f in results[-120:] if _signatures([f]))
    assert found_late[False] == 0, "without holding, the shift was learned as normal"
    assert found_late[True] == 120, "held, every sample of the last two hours shows it"


def test_a_sensor_that_keeps_spiking_stays_found_while_its_incident_is_open() -> None:
    rows = _healthy(1500 + 1440)
    rng = random.Random(3)
    spiky = [dict(r, temp_c=r["temp_c"] + (30 if rng.random() < 0.12 else 0)) for r in rows[1500:]]
    last_hours = {}
    for held in (False, True):
        diagnoser = DeviceDiagnoser(profile_for(None))
        _run(diagnoser, rows[:1500])
        if held:
            diagnoser.hold({"spike/temp_c"})
        results = _run(diagnoser, spiky, start=1500)
        fresh = [f["spike/temp_c"].fresh for f in results[-720:] if "spike/temp_c" in f]
        last_hours[held] = sum(fresh)
    assert last_hours[False] == 0, "unheld, a day of spikes makes them look usual"
    assert last_hours[True] >= 20, "held, the spikes of the last 12 hours are still found"


def test_a_metric_suspected_of_drifting_keeps_that_name_whichever_way_it_deviates() -> None:
    """A drift that ends (the sensor recalibrates itself) jumps back past its held
    baseline: that is the same incident going on, not a new anomaly beside it."""
    diagnoser = DeviceDiagnoser(profile_for(None))
    assert diagnoser._name("temp_c", -3.0, "") == "anomaly/temp_c"
    diagnoser.hold({"sensor-drift/temp_c"})
    assert diagnoser._name("temp_c", -3.0, "") == "sensor-drift/temp_c"
    assert diagnoser._name("mem_free_kb", -3.0, "") == "memory-leak/firmware"


def _weak_sites() -> tuple[FleetModel, list[dict[str, float]], list[dict[str, float]]]:
    """A fleet model that has seen chargers at -60 and at -90 dBm, and a charger's two
    days at -60, then half an hour at -90 before it is back at -60."""
    rng = random.Random(7)

    def with_signal(rows: list[dict[str, float]], dbm: float) -> list[dict[str, float]]:
        return [dict(row, rssi_dbm=dbm + rng.gauss(0, 1.0)) for row in rows]

    fleet_rows = with_signal(_healthy(2 * 1440, seed=4), -60.0)
    fleet_rows += with_signal(_healthy(2 * 1440, seed=5), -90.0)
    rows = _healthy(3 * 1440, seed=3)
    weak = with_signal(rows[2 * 1440 :], -90.0)
    weak[30:] = with_signal(rows[2 * 1440 + 30 :], -60.0)  # half an hour on, a radio reset
    return FleetModel.fit("charger", fleet_rows), with_signal(rows[: 2 * 1440], -60.0), weak


def test_a_weak_signal_the_fleet_knows_is_flapping_once_the_link_drops() -> None:
    """Weak sites put other chargers at -90 dBm, so the fleet model finds this one's fall
    from -60 to -90 ordinary and its baselines' finding is set aside, until the broker
    sees the link drop: then two detectors name the flapping link, its evidence is no
    longer the baselines' alone, and it opens as fast as the drop's own (not after the
    long wait of a learned-only finding)."""
    model, before, weak = _weak_sites()

    def flapping(drop: bool) -> list[Finding]:
        diagnoser = DeviceDiagnoser(profile_for(None), lambda: model)
        _run(diagnoser, before)
        if drop:
            diagnoser.observe_link(T0 + (2 * 1440 - 1) * STEP_S, online=False)
        found = _run(diagnoser, weak[:5], start=2 * 1440)
        return [f["connectivity/flapping"] for f in found if "connectivity/flapping" in f]

    assert flapping(drop=False) == []
    named = flapping(drop=True)
    assert len(named) == 5
    assert all(f.score > 0.9 and not f.learned for f in named)
    assert named[0].explanation["detector"] == "level"


def test_a_reset_radio_is_not_reported_from_the_windows_of_its_weak_spell() -> None:
    """Back at -60 dBm after a reset, the link's drops are still within the hour, but
    they vouch for no baseline view that averages the weak readings: nothing fresh names
    the link, so the fix can be verified."""
    model, before, weak = _weak_sites()
    diagnoser = DeviceDiagnoser(profile_for(None), lambda: model)
    _run(diagnoser, before)
    diagnoser.observe_link(T0 + (2 * 1440 - 1) * STEP_S, online=False)
    diagnoser.hold(["connectivity/flapping"])  # its incident is open
    during = _run(diagnoser, weak[:30], start=2 * 1440)
    assert all(f["connectivity/flapping"].fresh for f in during[:5])
    after = _run(diagnoser, weak[30:60], start=2 * 1440 + 30)
    stale = [f["connectivity/flapping"] for f in after if "connectivity/flapping" in f]
    assert stale, "the drop is still within the hour"
    assert all(f.explanation["detector"] == "presence" and not f.fresh for f in stale)


def _compressor_rows(n: int, seed: int, hotter_c: float = 0.0) -> list[dict[str, float]]:
    """A heat pump whose compressor temperature follows its speed (40 °C + 0.4 per %),
    power following speed too, beside signal strength and load that nothing predicts."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        speed = 50 + 40 * math.sin(i / 37.0) + rng.gauss(0, 3)
        rows.append(
            {
                "compressor_speed_pct": speed,
                "compressor_temp_c": 40 + 0.4 * speed + rng.gauss(0, 0.5) + hotter_c,
                "power_w": 30 * speed + rng.gauss(0, 20),
                "rssi_dbm": -60 + rng.gauss(0, 1),
                "cpu_load_pct": 20 + rng.gauss(0, 4),
            }
        )
    return rows


def test_a_compressor_hot_for_its_speed_is_named_by_the_fleets_relations_alone() -> None:
    """The fleet model's whole-sample statistics are blinded (limits out of reach), so
    the sample is ordinary to them and the device's own baselines are set aside: only
    the relation between speed and temperature says the compressor runs 8 °C hot."""
    fitted = FleetModel.fit(
        "heatpump-hp200", [r for s in (4, 5, 6) for r in _compressor_rows(2000, s)]
    )
    blind = FleetModel(
        fitted.device_model,
        fitted.subspace,
        1e12,
        1e12,
        fitted.calibration,
        n_samples=fitted.n_samples,
        threshold_quantile=fitted.threshold_quantile,
        loo_calibration=fitted.loo_calibration,
    )
    diagnoser = DeviceDiagnoser(profile_for("heatpump-hp200"), lambda: blind)
    _run(diagnoser, _compressor_rows(1500, 3))
    hot = _compressor_rows(20, 9, hotter_c=8.0)
    found = _run(diagnoser, hot, start=1500)
    named = [(sample, f["overheat/compressor"]) for sample, f in zip(hot, found, strict=True) if f]
    assert _signatures(found) == {"overheat/compressor"}
    assert len(named) >= 18, "a sample whose noise happens to fit the relation may pass"
    for sample, finding in named:
        assert finding.explanation["detector"] == "relation"
        predicted = 40 + 0.4 * sample["compressor_speed_pct"]
        assert finding.explanation["expected"] == pytest.approx(predicted, abs=1.5)
        assert finding.learned
    calm = _run(diagnoser, _compressor_rows(200, 10), start=1520)
    assert _signatures(calm) == set()
    heavy = [dict(r, power_w=r["power_w"] + 600) for r in _compressor_rows(20, 11)]
    assert _signatures(_run(diagnoser, heavy, start=1720)) == set(), "no profile meaning"
