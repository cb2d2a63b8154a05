"""Wear-out faults: a part that degrades observably, fails once at its time, and stays
broken until a service visit replaces it; and offline run-to-failure histories."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from device_agent.clock import ManualClock
from device_agent.hal import ReportsEvents
from firmware_sim import REMEDIES, Fault, FaultKind, FaultNotApplicable, InvalidFault, build_device
from firmware_sim.fleet import Fleet, FleetSpec
from firmware_sim.models.base import SimulatedDevice
from firmware_sim.scenario import ScenarioError, load_scenario
from firmware_sim.wearout import LifeSpread, plan_wear_out, run_to_failure

START_S = 1_700_000_000.0
HOUR_S = 3_600.0
DAY_S = 86_400.0
HP = "heatpump-hp200"
EV = "evcharger-ec11"


def wearing(model: str, signature: str, ttf_days: float = 6.0, seed: int = 3, **kw: float):
    clock = ManualClock(START_S)
    device = build_device(model, "dev-1", clock, seed)
    fault = Fault.from_signature(signature, START_S + DAY_S, duration_s=ttf_days * DAY_S, **kw)
    device.inject(fault)
    return clock, device, fault


def read_until(clock: ManualClock, device: SimulatedDevice, until_s: float, every_s: float = 600):
    rows, events = [], []
    while clock.now() + every_s <= until_s:
        clock.advance(every_s)
        rows.append((clock.now(), device.read_metrics()))
        events += device.take_events()
    return rows, events


def efficiency(m) -> float:
    """COP over the Carnot COP of the same temperatures: the wear, weather taken out."""
    condenser_c = m["supply_temp_c"] + 5.0
    return m["cop"] * (condenser_c - (m["outdoor_temp_c"] - 6.0)) / (condenser_c + 273.15)


def test_the_fault_is_validated_and_never_remotely_fixable():
    fault = Fault.from_signature("wear-out/connector", START_S, duration_s=DAY_S)
    assert fault.kind is FaultKind.WEAR_OUT
    assert fault.remote_fix is False
    assert fault.failure_s == START_S + DAY_S
    assert fault.end_s is None
    assert REMEDIES["wear-out/connector"].clears == ("service_visit",)
    assert REMEDIES["wear-out/compressor"].clears == ("service_visit",)
    with pytest.raises(InvalidFault, match="duration_s"):
        Fault.from_signature("wear-out/compressor", START_S)
    with pytest.raises(InvalidFault, match="compressor, connector"):
        Fault.from_signature("wear-out/fan", START_S, duration_s=DAY_S)


@pytest.mark.parametrize(
    ("model", "signature"), [(HP, "wear-out/connector"), (EV, "wear-out/compressor")]
)
def test_wear_out_of_a_part_the_model_lacks_is_not_applicable(model, signature):
    device = build_device(model, "dev-1", ManualClock(START_S), 1)
    with pytest.raises(FaultNotApplicable, match="wear-out/"):
        device.inject(Fault.from_signature(signature, START_S, duration_s=DAY_S))


def test_a_worn_compressor_loses_efficiency_faster_and_faster_then_seizes():
    clock, device, fault = wearing(HP, "wear-out/compressor")
    rows, events = read_until(clock, device, fault.failure_s + 6 * HOUR_S)
    assert isinstance(device, ReportsEvents)
    eff = np.array([efficiency(m) for _, m in rows])
    ts = np.array([t for t, _ in rows])
    life = (ts - fault.start_s) / (fault.failure_s - fault.start_s)
    # efficiency by quarter of the life relative to the healthy day: falling, faster late
    healthy = eff[life < 0].mean()
    quarters = [eff[(life >= q) & (life < q + 0.25)].mean() / healthy for q in (0, 0.25, 0.5, 0.75)]
    assert all(b < a + 0.02 for a, b in itertools.pairwise(quarters))
    assert quarters[0] - quarters[1] < quarters[2] - quarters[3]
    assert quarters[3] < 0.9
    running = [m for t, m in rows if fault.start_s <= t < fault.failure_s]
    assert max(m["compressor_current_a"] for m in running[-20:]) > max(
        m["compressor_current_a"] for m in running[:20]
    )
    after = [m for t, m in rows if t >= fault.failure_s]
    assert after
    assert all(m["heat_output_kw"] < 0.3 and m["compressor_speed_pct"] == 0 for m in after)
    assert [e.kind for e in events] == ["part_failed"]
    assert events[0].ts == fault.failure_s
    assert dict(events[0].detail) == {
        "component": "compressor",
        "signature": "wear-out/compressor",
        "model": HP,
    }


def connector_rise_per_a2(rows, since_s, until_s):
    """Mean connector temperature over the idle level, per A², while charging hard."""
    ratios = []
    idle_c = None
    for t, m in rows:
        if m["current_a"] == 0:
            idle_c = m["connector_temp_c"]
        elif m["current_a"] > 10 and idle_c is not None and since_s <= t < until_s:
            ratios.append((m["connector_temp_c"] - idle_c) / m["current_a"] ** 2)
    return float(np.mean(ratios))


async def test_worn_contacts_run_hotter_then_stop_charging_until_replaced():
    clock, device, fault = wearing(EV, "wear-out/connector", ttf_days=8.0, seed=5)
    rows, events = read_until(clock, device, fault.failure_s + 3 * DAY_S)
    start, end = fault.start_s, fault.failure_s
    early = connector_rise_per_a2(rows, start - DAY_S, start + 2 * DAY_S)
    late = connector_rise_per_a2(rows, end - 2 * DAY_S, end)
    assert late > 1.5 * early
    broken = [m for t, m in rows if t >= end]
    assert any(m["vehicle_connected"] == 1 for m in broken), "cars still plug in"
    assert all(m["current_a"] == 0 for m in broken), "but no current flows"
    assert len(events) == 1
    assert events[0].ts == end

    for action in ("reset_connector", "restart_firmware"):
        assert (await device.run_action(action, {})).ok
    assert device.active_faults() == [fault], "no remote action replaces a part"
    outcome = await device.run_action("service_visit", {})
    assert outcome.ok
    assert "replaced" in outcome.detail
    assert device.active_faults() == []
    assert device.fault_log[0].cleared_by == "service_visit"
    assert device.fault_log[0].failure_s == end
    rows, events = read_until(clock, device, clock.now() + 3 * DAY_S)
    assert events == [], "the failure is reported once"
    assert max(m["current_a"] for _, m in rows) > 10, "charging again"
    assert connector_rise_per_a2(rows, 0, np.inf) < 0.7 * late


async def test_a_service_visit_before_the_failure_resets_the_wear_and_no_failure_comes():
    clock, device, fault = wearing(HP, "wear-out/compressor", ttf_days=4.0)
    rows, _ = read_until(clock, device, fault.start_s + 3.5 * DAY_S)
    worn = np.mean([efficiency(m) for _, m in rows[-36:]])
    assert "compressor replaced" in (await device.run_action("service_visit", {})).detail
    rows, events = read_until(clock, device, fault.failure_s + DAY_S)
    assert events == []
    assert all(m["compressor_speed_pct"] > 0 for _, m in rows)
    assert np.mean([efficiency(m) for _, m in rows[-36:]]) > worn * 1.1


def test_magnitude_scales_the_signal():
    cops = []
    for magnitude in (0.5, 1.5):
        clock, device, fault = wearing(HP, "wear-out/compressor", magnitude=magnitude)
        rows, _ = read_until(clock, device, fault.failure_s - 600)
        cops.append(np.mean([efficiency(m) for _, m in rows[-36:]]))
    assert cops[1] < 0.85 * cops[0]


def test_degradation_is_monotone_in_expectation_across_devices():
    """Averaged over devices, the wear shows more at every tenth of the life than before."""
    runs = run_to_failure(
        HP, 4, seed=2, spread=LifeSpread(4.0, 3.0, 2.0), healthy_days=(0.5, 1.0), workers=1
    )
    by_tenth = np.zeros((len(runs), 10))
    for row, run in enumerate(runs):
        life = (run.ts - run.wear_start_s) / (run.failure_s - run.wear_start_s)
        eff = efficiency(run.metrics)
        for tenth in range(10):
            inside = (life >= tenth / 10) & (life < (tenth + 1) / 10)
            by_tenth[row, tenth] = np.mean(eff[inside])
    mean = by_tenth.mean(axis=0)
    assert (np.diff(mean) < 0.002).all()
    assert mean[-1] < 0.85 * mean[0]


def test_run_to_failure_histories_end_at_their_failure_and_replay():
    spread = LifeSpread(scale_days=3.0, shape=3.0, min_days=1.0)
    runs = run_to_failure(EV, 3, seed=4, spread=spread, healthy_days=(0.5, 1.0), workers=1)
    assert [r.device_id for r in runs] == [f"{EV}-rtf-{i:04d}" for i in range(3)]
    for run in runs:
        assert run.ts[-1] < run.failure_s <= run.ts[-1] + 600
        assert run.wear_start_s - run.ts[0] >= 0.5 * DAY_S
        assert set(run.metrics) >= {"connector_temp_c", "current_a"}
        assert all(len(v) == len(run.ts) for v in run.metrics.values())
    again = run_to_failure(EV, 3, seed=4, spread=spread, healthy_days=(0.5, 1.0), workers=2)
    for a, b in zip(runs, again, strict=True):
        assert a.failure_s == b.failure_s
        np.testing.assert_array_equal(a.metrics["connector_temp_c"], b.metrics["connector_temp_c"])
    assert len({r.failure_s - r.wear_start_s for r in runs}) == 3, "times to failure spread"
    with pytest.raises(ValueError, match="at least one"):
        run_to_failure(EV, 0)
    with pytest.raises(KeyError, match="unknown device model"):
        run_to_failure("toaster-t1", 1)


def test_plan_wear_out_picks_a_share_reproducibly():
    ids = [f"d{i}" for i in range(400)]
    models = {d: (HP if i % 2 else EV) for i, d in enumerate(ids)}
    plan = plan_wear_out(ids, models, seed=1, start_s=START_S, share=0.25)
    assert plan == plan_wear_out(ids, models, seed=1, start_s=START_S, share=0.25)
    assert 70 <= len(plan) <= 130
    for device_id, fault in plan.items():
        assert fault.signature == (
            "wear-out/compressor" if models[device_id] == HP else "wear-out/connector"
        )
        assert START_S <= fault.start_s <= START_S + DAY_S
    assert plan_wear_out(ids, models, seed=1, start_s=START_S, share=0.0) == {}
    with pytest.raises(ValueError, match="share"):
        plan_wear_out(ids, models, seed=1, start_s=START_S, share=1.5)


def test_a_scenario_opts_a_share_of_the_fleet_into_wear_out(tmp_path):
    path = tmp_path / "wear.yaml"
    path.write_text(
        "fleet:\n  devices: 20\n  seed: 3\n"
        "  wear_out: {share: 0.5, after_s: 600, scale_days: 3, shape: 2, min_days: 1}\n"
        "duration_s: 60\n"
    )
    scenario = load_scenario(path)
    wear = scenario.fleet.wear_out
    assert wear is not None
    assert wear.share == 0.5
    spec = FleetSpec(devices=20, mqtt_url="mqtt://127.0.0.1:9", seed=3, wear_out_share=0.5)
    fleet = Fleet(spec, ManualClock(START_S))
    try:
        worn = [
            u for u in fleet.units if any(w.kind is FaultKind.WEAR_OUT for w in u.device.fault_log)
        ]
    finally:
        fleet.close()
    assert 4 <= len(worn) <= 16
    path.write_text("fleet: {devices: 2, wear_out: {share: 2}}\nduration_s: 60\n")
    with pytest.raises(ScenarioError, match=r"fleet\.wear_out\.share"):
        load_scenario(path)


def test_fleets_without_the_opt_in_have_no_wear_out():
    spec = FleetSpec(devices=10, mqtt_url="mqtt://127.0.0.1:9", fault_rate_per_device_day=5.0)
    fleet = Fleet(spec, ManualClock(START_S))
    try:
        kinds = {w.kind for u in fleet.units for w in u.device.fault_log}
    finally:
        fleet.close()
    assert kinds
    assert FaultKind.WEAR_OUT not in kinds
