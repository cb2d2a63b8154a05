"""Simulated device models: registry, determinism, plausible physics, wear and actions."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys

import pytest

from device_agent.clock import ManualClock
from device_agent.contract import MAX_METRICS_PER_SAMPLE, Sample
from device_agent.hal import Hal, UnknownAction
from firmware_sim import (
    MODELS,
    EvCharger,
    HeatPump,
    SimulatedDevice,
    UnknownModel,
    build_device,
)
from firmware_sim.models.signals import local_hour

START_S = 1_700_000_000.0  # 2023-11-14, a heating-season week
WEEK_S = 7 * 86_400.0
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def make(
    model: str, device_id: str = "dev-1", seed: int = 7
) -> tuple[SimulatedDevice, ManualClock]:
    clock = ManualClock(START_S)
    return build_device(model, device_id, clock, seed), clock


def trace(
    device: SimulatedDevice, clock: ManualClock, seconds: float, every_s: float
) -> list[tuple[float, dict[str, float]]]:
    """Advance the clock in ``every_s`` steps, reading the device after each."""
    readings = []
    for _ in range(round(seconds / every_s)):
        clock.advance(every_s)
        readings.append((clock.now(), device.read_metrics()))
    return readings


def test_registry_builds_every_model_under_its_own_id():
    assert set(MODELS) >= {"heatpump-hp200", "evcharger-ec11"}
    for model in MODELS:
        device, _ = make(model)
        assert device.model == model
        assert device.device_id == "dev-1"
        assert device.firmware


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModel, match="unknown device model 'toaster-t1'") as caught:
        make("toaster-t1")
    for model in MODELS:
        assert model in str(caught.value)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_simulated_device_is_a_hal(model):
    device, _ = make(model)
    hal: Hal = device  # structural: mypy checks this assignment
    assert hal.model == model
    facts = hal.facts()
    assert facts["model"] == model
    assert all(isinstance(v, str | int | float | bool) for v in facts.values())


@pytest.mark.parametrize("model", sorted(MODELS))
def test_same_seed_and_times_give_identical_readings(model):
    first, clock_a = make(model, seed=3)
    second, clock_b = make(model, seed=3)
    assert first.facts() == second.facts()
    assert trace(first, clock_a, 86_400, 300) == trace(second, clock_b, 86_400, 300)


_READ_IN_CHILD = """
import json, sys
from device_agent.clock import ManualClock
from firmware_sim import build_device
clock = ManualClock(1_700_000_000.0)
device = build_device(sys.argv[1], "dev-1", clock, 3)
readings = []
for _ in range(24):
    clock.advance(3600)
    readings.append(device.read_metrics())
print(json.dumps(readings))
"""


@pytest.mark.parametrize("model", sorted(MODELS))
def test_readings_do_not_depend_on_the_process(model):
    """No salted ``hash()`` anywhere: another interpreter with another hash seed agrees."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    child = subprocess.run(
        [sys.executable, "-c", _READ_IN_CHILD, model],
        capture_output=True,
        check=True,
        env=env,
        text=True,
    )
    device, clock = make(model, seed=3)
    here = [m for _, m in trace(device, clock, 24 * 3600, 3600)]
    assert json.loads(child.stdout) == here


@pytest.mark.parametrize("model", sorted(MODELS))
def test_seed_and_device_id_both_change_the_device(model):
    base = trace(*make(model, "dev-1", seed=3), 3_600, 600)
    assert trace(*make(model, "dev-1", seed=4), 3_600, 600) != base
    assert trace(*make(model, "dev-2", seed=3), 3_600, 600) != base


@pytest.mark.parametrize("model", sorted(MODELS))
def test_physics_follows_simulated_time_not_read_count(model):
    """Read every minute or every 15 minutes: the slow state lands in the same place."""
    often, clock_often = make(model)
    rarely, clock_rarely = make(model)
    trace(often, clock_often, 2 * 86_400, 60)
    trace(rarely, clock_rarely, 2 * 86_400, 900)
    a, b = often.read_metrics(), rarely.read_metrics()
    assert a["uptime_s"] == b["uptime_s"]
    for name, spec in often.METRICS.items():
        assert a[name] == pytest.approx(b[name], abs=3 * spec.scale), name


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_healthy_week_stays_plausible(model):
    device, clock = make(model, seed=11)
    readings = trace(device, clock, WEEK_S, 600)
    for ts, metrics in readings:
        Sample(seq=0, ts=ts, metrics=metrics)  # the wire contract accepts it
        assert len(metrics) <= MAX_METRICS_PER_SAMPLE
        assert set(metrics) == set(device.METRICS)
        for name, value in metrics.items():
            spec = device.METRICS[name]
            assert METRIC_NAME.match(name)
            assert math.isfinite(value), name
            assert spec.low <= value <= spec.high, f"{name}={value} at {ts}"
    assert device.active_faults() == []
    assert device.link_up()
    assert device.crash_count == 0


@pytest.mark.parametrize("model", sorted(MODELS))
def test_firmware_metrics_tick_with_the_clock(model):
    device, clock = make(model)
    before = device.read_metrics()["uptime_s"]
    clock.advance(123.0)
    assert device.read_metrics()["uptime_s"] == pytest.approx(before + 123.0)


def test_heat_pump_cop_falls_as_it_gets_colder():
    device, clock = make("heatpump-hp200", seed=5)
    readings = [m for _, m in trace(device, clock, 3 * 86_400, 900)]
    running = [m for m in readings if m["supply_temp_c"] < 52]  # leave out hot-water runs
    coldest = min(running, key=lambda m: m["outdoor_temp_c"])
    mildest = max(running, key=lambda m: m["outdoor_temp_c"])
    assert coldest["cop"] < mildest["cop"]
    assert coldest["compressor_speed_pct"] >= mildest["compressor_speed_pct"]
    for m in readings:
        assert m["return_temp_c"] < m["supply_temp_c"]
        assert m["power_w"] == pytest.approx(
            1000 * m["heat_output_kw"] / m["cop"] + 100, rel=0.2, abs=150
        )


def test_heat_pump_wears_with_operating_hours():
    young, _ = make("heatpump-hp200")
    old, _ = make("heatpump-hp200")
    assert isinstance(young, HeatPump)
    assert isinstance(old, HeatPump)
    old._run_s += 40_000 * 3_600.0  # white box: 40,000 more compressor hours
    assert old._cop(START_S) < young._cop(START_S) * 0.9
    assert old.read_metrics()["compressor_run_h"] == pytest.approx(
        young.read_metrics()["compressor_run_h"] + 40_000
    )


def test_charger_sessions_start_at_plausible_hours_and_heat_the_connector():
    device, clock = make("evcharger-ec11", seed=2)
    readings = trace(device, clock, WEEK_S, 300)
    utc_offset_s = float(device.facts()["utc_offset_s"])
    starts = [
        ts
        for (_, before), (ts, after) in itertools.pairwise(readings)
        if before["vehicle_connected"] == 0 and after["vehicle_connected"] == 1
    ]
    assert 3 <= len(starts) <= 14
    for ts in starts:
        assert 9 <= local_hour(ts, utc_offset_s) < 21.1
    charging = [m for _, m in readings if m["current_a"] > 10]
    idle = [m for _, m in readings if m["vehicle_connected"] == 0]
    assert charging
    assert idle
    assert all(m["current_a"] == 0 and m["power_kw"] == 0 for m in idle)
    assert all(m["session_energy_kwh"] == 0 for m in idle)
    assert max(m["connector_temp_c"] for m in charging) > max(
        m["connector_temp_c"] for m in idle[:12]
    )
    totals = [m["energy_total_kwh"] for _, m in readings]
    assert totals == sorted(totals)
    assert totals[-1] - totals[0] == pytest.approx(
        sum(
            before["session_energy_kwh"]
            for (_, before), (_, after) in itertools.pairwise(readings)
            if before["vehicle_connected"] == 1 and after["vehicle_connected"] == 0
        ),
        rel=0.1,
        abs=2.0,
    )


def test_charger_connector_wear_rises_with_plug_ins():
    device, clock = make("evcharger-ec11", seed=2)
    assert isinstance(device, EvCharger)
    worn_before = device._contact_mohm(START_S)
    trace(device, clock, WEEK_S, 3_600)
    assert device._contact_mohm(clock.now()) > worn_before


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_unknown_action_is_refused_with_the_known_ones(model):
    device, _ = make(model)
    with pytest.raises(UnknownAction, match="restart_firmware"):
        await device.run_action("self_destruct", {})


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_bad_action_params_fail_without_raising(model):
    device, _ = make(model)
    outcome = await device.run_action("recalibrate_sensor", {"metric": "no_such_metric"})
    assert not outcome.ok
    assert "metric" in outcome.detail
    outcome = await device.run_action("reduce_load", {"fraction": "lots"})
    assert not outcome.ok


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_restart_firmware_restarts_uptime(model):
    device, clock = make(model)
    clock.advance(600)
    assert device.read_metrics()["uptime_s"] > 600
    outcome = await device.run_action("restart_firmware", {})
    assert outcome.ok
    clock.advance(30)
    assert device.read_metrics()["uptime_s"] == pytest.approx(30)


async def test_derating_lowers_the_charging_current():
    device, clock = make("evcharger-ec11", seed=2)
    max_a = float(device.facts()["max_current_a"])
    outcome = await device.run_action("derate_current", {"max_current_a": 10, "duration_s": 3_600})
    assert outcome.ok
    assert device.read_metrics()["current_limit_a"] == 10
    clock.advance(3_601)
    assert device.read_metrics()["current_limit_a"] == max_a
