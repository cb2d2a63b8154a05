"""Injected faults: their signatures, visible effects, ground truth and remedies.

Most tests run a faulty device beside a healthy twin (same model, id and seed, read at the
same instants): the twins draw the same noise, so any difference is the fault's doing.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_agent.clock import ManualClock
from firmware_sim import (
    MODELS,
    REMEDIES,
    Fault,
    FaultKind,
    FaultNotApplicable,
    InvalidFault,
    SimulatedDevice,
    UnknownModel,
    build_device,
    plan_faults,
    remedy_for,
)

START_S = 1_700_000_000.0
HOUR_S = 3_600.0
HP = "heatpump-hp200"
EV = "evcharger-ec11"


class Twins:
    """A faulty device and its healthy twin on one clock."""

    def __init__(self, model: str, seed: int = 7) -> None:
        self.clock = ManualClock(START_S)
        self.faulty = build_device(model, "dev-1", self.clock, seed)
        self.healthy = build_device(model, "dev-1", self.clock, seed)

    def inject(self, signature: str, after_s: float = 0.0, **kwargs: float) -> Fault:
        fault = Fault.from_signature(signature, self.clock.now() + after_s, **kwargs)
        self.faulty.inject(fault)
        return fault

    def run(
        self, seconds: float, every_s: float
    ) -> list[tuple[dict[str, float], dict[str, float]]]:
        pairs = []
        for _ in range(round(seconds / every_s)):
            self.clock.advance(every_s)
            pairs.append((self.faulty.read_metrics(), self.healthy.read_metrics()))
        return pairs

    def read(self) -> tuple[dict[str, float], dict[str, float]]:
        return self.faulty.read_metrics(), self.healthy.read_metrics()


async def fix(device: SimulatedDevice, action: str, params=None, tries: int = 6) -> int:
    """Run a clearing action until the fault it addresses ends (a right fix takes with its
    remedy's chance each time); returns how many runs it took."""
    for attempt in range(1, tries + 1):
        before = len(device.active_faults())
        assert (await device.run_action(action, params or {})).ok
        if len(device.active_faults()) < before:
            return attempt
    raise AssertionError(f"{action} never took in {tries} tries")


def only_window(device: SimulatedDevice):
    (window,) = device.fault_log
    return window


# -- the Fault type ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "signature"),
    [
        (FaultKind.OVERHEAT, "compressor", "overheat/compressor"),
        (FaultKind.OVERHEAT, "connector", "overheat/connector"),
        (FaultKind.SENSOR_STUCK, "supply_temp_c", "sensor-stuck/supply_temp_c"),
        (FaultKind.SENSOR_DRIFT, "voltage_v", "sensor-drift/voltage_v"),
        (FaultKind.SPIKE, "current_a", "spike/current_a"),
        (FaultKind.MEMORY_LEAK, "firmware", "memory-leak/firmware"),
        (FaultKind.CONNECTIVITY, "flapping", "connectivity/flapping"),
    ],
)
def test_signatures_are_the_agreed_strings(kind, target, signature):
    fault = Fault(kind, target, START_S)
    assert fault.signature == signature
    assert Fault.from_signature(signature, START_S) == fault


@given(
    kind=st.sampled_from([FaultKind.SENSOR_STUCK, FaultKind.SENSOR_DRIFT, FaultKind.SPIKE]),
    metric=st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
    duration_s=st.none() | st.floats(1.0, 1e6),
)
def test_sensor_signatures_round_trip(kind, metric, duration_s):
    fault = Fault(kind, metric, START_S, duration_s)
    assert Fault.from_signature(fault.signature, START_S, duration_s) == fault


@pytest.mark.parametrize(
    ("signature", "duration_s", "magnitude", "message"),
    [
        ("melt/compressor", None, 1.0, "unknown fault kind 'melt'"),
        ("overheat", None, 1.0, "kind/target"),
        ("overheat/toaster", None, 1.0, "compressor, connector"),
        ("memory-leak/radio", None, 1.0, "'firmware'"),
        ("sensor-stuck/Bad Name", None, 1.0, "metric name"),
        ("spike/current_a", -5.0, 1.0, "duration_s"),
        ("spike/current_a", None, 0.0, "magnitude"),
        ("spike/current_a", None, float("nan"), "magnitude"),
    ],
)
def test_nonsense_faults_are_refused(signature, duration_s, magnitude, message):
    with pytest.raises(InvalidFault, match=message):
        Fault.from_signature(signature, START_S, duration_s, magnitude)


@pytest.mark.parametrize(
    ("model", "signature", "message"),
    [
        (HP, "overheat/connector", "overheat/compressor"),
        (EV, "overheat/compressor", "overheat/connector"),
        (HP, "sensor-stuck/voltage_v", "no metric 'voltage_v'"),
    ],
)
def test_faults_a_model_cannot_have_are_refused(model, signature, message):
    device = build_device(model, "dev-1", ManualClock(START_S), 1)
    with pytest.raises(FaultNotApplicable, match=message):
        device.inject(Fault.from_signature(signature, START_S))


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_every_menu_fault_has_remedies_the_model_knows(model):
    """The REMEDIES table and the models' actions must not drift apart."""
    for signature, _weight in MODELS[model].FAULT_MENU:
        remedy = remedy_for(Fault.from_signature(signature, START_S))
        device = build_device(model, "dev-1", ManualClock(START_S), 1)
        device.inject(Fault.from_signature(signature, START_S))
        metric = signature.split("/")[1]
        for action in remedy.mitigates:
            outcome = await device.run_action(action, {"metric": metric})
            assert outcome.ok, (signature, action, outcome.detail)
        await fix(device, remedy.clears[0], {"metric": metric})
        assert device.active_faults() == []


# -- windows and scheduling --------------------------------------------------------------------


def test_a_fault_acts_only_inside_its_window():
    twins = Twins(HP)
    fault = twins.inject("sensor-drift/outdoor_temp_c", after_s=HOUR_S, duration_s=HOUR_S)
    assert twins.faulty.active_faults() == []
    twins.run(HOUR_S - 60, 60)
    assert twins.faulty.active_faults() == []
    twins.clock.advance(60)
    assert twins.faulty.active_faults() == [fault]  # the window is half-open: [start, end)
    twins.run(HOUR_S, 60)
    assert twins.faulty.active_faults() == []
    faulty, healthy = twins.read()
    assert faulty == healthy
    window = only_window(twins.faulty)
    assert (window.signature, window.kind, window.start_s) == (
        "sensor-drift/outdoor_temp_c",
        FaultKind.SENSOR_DRIFT,
        fault.start_s,
    )
    assert window.end_s == fault.start_s + HOUR_S
    assert window.cleared_by is None


async def test_a_wrong_action_says_done_but_the_fault_stays():
    twins = Twins(HP)
    fault = twins.inject("memory-leak/firmware")
    twins.run(HOUR_S, 60)
    outcome = await twins.faulty.run_action("reset_radio", {})
    assert outcome.ok
    assert twins.faulty.active_faults() == [fault]
    assert only_window(twins.faulty).end_s is None


# -- overheat ---------------------------------------------------------------------------------


async def test_compressor_overheat_runs_hot_costly_and_is_cured_by_cleaning():
    twins = Twins(HP)
    twins.inject("overheat/compressor")
    faulty, healthy = twins.run(2 * HOUR_S, 60)[-1]
    assert faulty["compressor_temp_c"] > healthy["compressor_temp_c"] + 15
    assert faulty["cop"] < healthy["cop"] * 0.8
    assert faulty["compressor_current_a"] > healthy["compressor_current_a"] * 1.15
    assert faulty["power_w"] > healthy["power_w"]

    assert (await twins.faulty.run_action("restart_firmware", {})).ok
    assert (await twins.faulty.run_action("reduce_load", {"fraction": 0.4})).ok
    assert (await twins.healthy.run_action("reduce_load", {"fraction": 0.4})).ok
    faulty, healthy = twins.run(HOUR_S, 60)[-1]
    assert twins.faulty.active_faults(), "reduce_load only mitigates"
    assert faulty["compressor_temp_c"] > healthy["compressor_temp_c"] + 10

    await fix(twins.faulty, "clean_filter")
    window = only_window(twins.faulty)
    assert (window.end_s, window.cleared_by) == (twins.clock.now(), "clean_filter")
    faulty, healthy = twins.run(2 * HOUR_S, 60)[-1]
    assert twins.faulty.active_faults() == []
    assert faulty["compressor_temp_c"] < healthy["compressor_temp_c"] + 2
    assert faulty["cop"] > healthy["cop"] * 0.95


async def test_reduce_load_softens_a_compressor_overheat_partly():
    mitigated, unmitigated = Twins(HP), Twins(HP)
    for twins in (mitigated, unmitigated):
        twins.inject("overheat/compressor")
        twins.run(2 * HOUR_S, 300)
    await mitigated.faulty.run_action("reduce_load", {"fraction": 0.3})
    eased, healthy = mitigated.run(HOUR_S, 300)[-1]
    hot, _ = unmitigated.run(HOUR_S, 300)[-1]
    assert healthy["compressor_temp_c"] + 5 < eased["compressor_temp_c"] < hot["compressor_temp_c"]


async def test_connector_overheat_shows_under_load_and_reset_connector_clears_it():
    twins = Twins(EV, seed=2)
    twins.inject("overheat/connector")
    pairs = twins.run(3 * 86_400, 300)
    hot_gaps = [
        f["connector_temp_c"] - h["connector_temp_c"]
        for f, h in pairs
        if h["current_a"] > 12 and f["current_a"] > 12
    ]
    cold_gaps = [
        abs(f["connector_temp_c"] - h["connector_temp_c"])
        for (f, h), (f_before, _) in zip(pairs[12:], pairs, strict=False)
        if f["vehicle_connected"] == 0 and f_before["vehicle_connected"] == 0
    ]
    assert max(hot_gaps) > 15  # a 16 A charger: +6 K when healthy, +25 K with the fault
    assert cold_gaps
    assert max(cold_gaps) < 5

    assert (await twins.faulty.run_action("derate_current", {})).ok
    assert twins.faulty.active_faults(), "derating only mitigates"
    await fix(twins.faulty, "reset_connector")
    assert twins.faulty.active_faults() == []
    assert only_window(twins.faulty).cleared_by == "reset_connector"


# -- sensor faults ----------------------------------------------------------------------------


async def test_a_stuck_sensor_repeats_its_value_exactly_until_recalibrated():
    twins = Twins(HP)
    twins.inject("sensor-stuck/supply_temp_c")
    pairs = twins.run(HOUR_S, 60)
    assert len({f["supply_temp_c"] for f, _ in pairs}) == 1
    assert len({h["supply_temp_c"] for _, h in pairs}) > 30
    assert all(f["return_temp_c"] == h["return_temp_c"] for f, h in pairs)

    await twins.faulty.run_action("recalibrate_sensor", {"metric": "return_temp_c"})
    assert len({f["supply_temp_c"] for f, _ in twins.run(600, 60)}) == 1

    await fix(twins.faulty, "recalibrate_sensor", {"metric": "supply_temp_c"})
    assert all(f == h for f, h in twins.run(600, 60))
    assert only_window(twins.faulty).cleared_by == "recalibrate_sensor"


async def test_a_drifting_sensor_drifts_linearly_until_recalibrated():
    twins = Twins(EV)
    scale = twins.faulty.METRICS["voltage_v"].scale
    twins.inject("sensor-drift/voltage_v", magnitude=2.0)
    for hours in (1, 2, 3):
        faulty, healthy = twins.run(HOUR_S, 600)[-1]
        assert faulty["voltage_v"] - healthy["voltage_v"] == pytest.approx(2.0 * scale * hours)
    await fix(twins.faulty, "recalibrate_sensor", {"metric": "voltage_v"})
    faulty, healthy = twins.read()
    assert faulty == healthy


async def test_a_spiking_sensor_glitches_sporadically():
    twins = Twins(HP)
    scale = twins.faulty.METRICS["compressor_current_a"].scale
    twins.inject("spike/compressor_current_a")
    gaps = [
        abs(f["compressor_current_a"] - h["compressor_current_a"]) for f, h in twins.run(HOUR_S, 10)
    ]
    spikes = [g for g in gaps if g > 0]
    assert 0.03 * len(gaps) < len(spikes) < 0.3 * len(gaps)
    assert min(spikes) >= 3 * scale
    await fix(twins.faulty, "recalibrate_sensor", {"metric": "compressor_current_a"})
    assert all(f == h for f, h in twins.run(HOUR_S, 10))


# -- firmware faults --------------------------------------------------------------------------


async def test_a_memory_leak_drains_the_heap_crashes_and_restarts_over_again():
    twins = Twins(EV)
    twins.inject("memory-leak/firmware")
    pairs = twins.run(3 * HOUR_S, 60)
    free = [f["mem_free_kb"] for f, _ in pairs]
    assert free[-1] < 0.35 * free[0]
    assert pairs[-1][0]["cpu_load_pct"] > pairs[-1][1]["cpu_load_pct"] + 10
    assert twins.faulty.crash_count == 0

    down = []
    for _ in range(9 * 60):
        twins.clock.advance(10)
        metrics = twins.faulty.read_metrics()
        down.append(not twins.faulty.link_up())
        if twins.faulty.crash_count:
            break
    assert twins.faulty.crash_count == 1, "the watchdog reboots when the heap runs out"
    assert metrics["uptime_s"] < 10
    assert metrics["mem_free_kb"] > 0.9 * free[0]
    assert down[-1], "the radio is down while rebooting"
    assert twins.faulty.active_faults(), "the crash does not fix the leak"
    twins.run(HOUR_S, 60)
    assert twins.faulty.link_up()
    assert twins.faulty.read_metrics()["mem_free_kb"] < 0.85 * free[0]


async def test_restart_firmware_cures_a_memory_leak():
    twins = Twins(HP)
    twins.inject("memory-leak/firmware")
    twins.run(2 * HOUR_S, 300)
    assert (await twins.faulty.run_action("restart_firmware", {})).ok
    assert only_window(twins.faulty).cleared_by == "restart_firmware"
    faulty, healthy = twins.run(6 * HOUR_S, 300)[-1]
    assert faulty["uptime_s"] == pytest.approx(6 * HOUR_S)
    assert faulty["mem_free_kb"] == pytest.approx(healthy["mem_free_kb"])
    assert twins.faulty.crash_count == 0


async def test_a_flapping_link_toggles_with_low_signal_until_the_radio_is_reset():
    twins = Twins(EV)
    twins.inject("connectivity/flapping")
    states = []
    rssi_drops = []
    for _ in range(120):
        twins.clock.advance(5)
        states.append(twins.faulty.link_up())
        faulty, healthy = twins.read()
        rssi_drops.append(healthy["rssi_dbm"] - faulty["rssi_dbm"])
    assert not states[0]
    assert True in states
    assert False in states
    toggles = sum(a != b for a, b in itertools.pairwise(states))
    assert 3 <= toggles <= 20  # every few tens of seconds over ten minutes
    assert min(rssi_drops) > 15
    assert twins.healthy.link_up()

    await twins.faulty.run_action("restart_firmware", {})
    assert twins.faulty.active_faults()
    await twins.faulty.run_action("reset_radio", {})
    assert twins.faulty.active_faults() == []
    for _ in range(60):
        twins.clock.advance(5)
        assert twins.faulty.link_up()


# -- fleet schedules ---------------------------------------------------------------------------


def test_plan_faults_draws_applicable_faults_deterministically():
    ids = [f"dev-{i}" for i in range(100)]
    models = [HP if i % 2 else EV for i in range(100)]
    plan = plan_faults(
        ids, models, rng_seed=5, start_s=START_S, duration_s=10 * 86_400, rate_per_device_day=0.2
    )
    assert plan == plan_faults(ids, models, 5, START_S, 10 * 86_400, 0.2)
    assert plan != plan_faults(ids, models, 6, START_S, 10 * 86_400, 0.2)
    total = sum(len(faults) for faults in plan.values())
    assert 100 < total < 320  # about 2 per device over 10 days
    for device_id, model in zip(ids, models, strict=True):
        device = build_device(model, device_id, ManualClock(START_S), 1)
        signatures = [f.signature for f in plan[device_id]]
        assert len(signatures) == len(set(signatures))
        for fault in plan[device_id]:
            assert START_S <= fault.start_s < START_S + 10 * 86_400
            assert fault.signature in dict(MODELS[model].FAULT_MENU)
            device.inject(fault)
    durations = [f.duration_s for faults in plan.values() for f in faults]
    assert None in durations
    assert any(d is not None for d in durations)


def test_plan_faults_accepts_one_model_or_a_mapping_and_checks_them():
    ids = ["a", "b"]
    one = plan_faults(ids, HP, 1, START_S, 86_400, 3.0)
    assert one == plan_faults(ids, {"a": HP, "b": HP}, 1, START_S, 86_400, 3.0)
    assert plan_faults(ids, HP, 1, START_S, 86_400, 0.0) == {"a": [], "b": []}
    with pytest.raises(UnknownModel, match="heatpump-hp200"):
        plan_faults(ids, "toaster-t1", 1, START_S, 86_400, 1.0)
    with pytest.raises(ValueError, match="2 devices"):
        plan_faults(ids, [HP], 1, START_S, 86_400, 1.0)
    with pytest.raises(ValueError, match="no model"):
        plan_faults(ids, {"a": HP}, 1, START_S, 86_400, 1.0)


def test_every_kind_has_a_remedy():
    for kind in FaultKind:
        assert any(key.split("/")[0] == kind.value for key in REMEDIES)


# -- what fixes really do -------------------------------------------------------------------


async def test_a_right_fix_does_not_always_take_though_the_device_says_done():
    """Across many devices, a recalibration clears a stuck sensor about as often as its
    remedy says; every run is reported done, so only the telemetry can tell."""
    took = 0
    for index in range(200):
        device = build_device(HP, f"hp-{index}", ManualClock(START_S), 1)
        device.inject(Fault.from_signature("sensor-stuck/supply_temp_c", START_S))
        outcome = await device.run_action("recalibrate_sensor", {"metric": "supply_temp_c"})
        assert outcome.ok
        took += not device.active_faults()
    assert 0.8 <= took / 200 <= 0.97


async def test_a_broken_part_is_cleared_only_by_a_service_visit():
    device = build_device(HP, "hp-1", ManualClock(START_S), 1)
    broken = Fault(FaultKind.OVERHEAT, "compressor", START_S, remote_fix=False)
    device.inject(broken)
    for _ in range(10):
        assert (await device.run_action("clean_filter", {})).ok
    assert device.active_faults() == [broken]
    assert (await device.run_action("service_visit", {})).ok
    assert device.active_faults() == []


async def test_a_wrong_fix_can_make_things_worse():
    """A reboot under load re-arcs a worn connector: the overheat grows."""

    def worst_excess(pairs):
        return max(
            f["connector_temp_c"] - h["connector_temp_c"]
            for f, h in pairs
            if h["current_a"] > 12 and f["current_a"] > 12
        )

    twins = Twins(EV, seed=2)
    twins.inject("overheat/connector")
    before = worst_excess(twins.run(2 * 86_400, 300))
    assert (await twins.faulty.run_action("restart_firmware", {})).ok
    after = worst_excess(twins.run(2 * 86_400, 300))
    assert after > 1.3 * before
    assert twins.faulty.active_faults(), "and it cleared nothing"
