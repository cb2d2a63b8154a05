"""The opt-in environment: weather fronts, holidays, a firmware rollout and mid-run
installs each change a device's telemetry visibly, deterministically, and only when asked."""

from __future__ import annotations

import statistics
from types import MappingProxyType

import pytest

from device_agent.clock import ManualClock
from firmware_sim import NotInstalled, build_device, plan_environment
from firmware_sim.models import (
    Environment,
    FirmwareUpdate,
    Holiday,
    SimulatedDevice,
    WeatherFront,
)
from firmware_sim.models.signals import SECONDS_PER_DAY

START_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a local midnight at UTC offset 0
DAY0 = int(START_S // SECONDS_PER_DAY)
HOUR_S = 3600.0


def twins(
    model: str, environment: Environment, device_id: str = "dev-1"
) -> tuple[SimulatedDevice, SimulatedDevice, ManualClock]:
    """The same device twice on one clock, in a quiet world and in ``environment``: their
    noise draws line up, so any difference is the environment's doing."""
    clock = ManualClock(START_S)
    quiet = build_device(model, device_id, clock, seed=5)
    loud = build_device(model, device_id, clock, seed=5, environment=environment)
    return quiet, loud, clock


def run(
    quiet: SimulatedDevice, loud: SimulatedDevice, clock: ManualClock, hours: float, every_s: float
) -> list[tuple[float, dict[str, float], dict[str, float]]]:
    rows = []
    for _ in range(round(hours * HOUR_S / every_s)):
        clock.advance(every_s)
        rows.append((clock.now(), quiet.read_metrics(), loud.read_metrics()))
    return rows


def test_no_environment_and_an_empty_one_read_the_same():
    for model in ("heatpump-hp200", "evcharger-ec11"):
        quiet, loud, clock = twins(model, Environment())
        for _, a, b in run(quiet, loud, clock, 30, 600.0):
            assert a == b


def test_a_cold_front_lowers_the_outdoor_temperature_for_days():
    front = WeatherFront(START_S + 12 * HOUR_S, delta_c=-8.0, ramp_s=6 * HOUR_S, hold_s=2 * 86_400)
    quiet, loud, clock = twins("heatpump-hp200", Environment(fronts=(front,)))
    rows = run(quiet, loud, clock, 4 * 24, 600.0)
    shift = {t: b["outdoor_temp_c"] - a["outdoor_temp_c"] for t, a, b in rows}
    before = [d for t, d in shift.items() if t < front.start_s]
    held = [d for t, d in shift.items() if 25 * HOUR_S <= t - START_S < 65 * HOUR_S]
    gone_s = front.start_s + front.spread_s + 2 * front.ramp_s + front.hold_s
    after = [d for t, d in shift.items() if t >= gone_s]
    assert before
    assert held
    assert after
    assert max(abs(d) for d in before) < 1e-9
    assert all(d == pytest.approx(-8.0) for d in held)
    assert max(abs(d) for d in after) < 1e-9
    # and the heat pump works harder through the cold snap
    speed = [b["compressor_speed_pct"] - a["compressor_speed_pct"] for t, a, b in rows]
    assert statistics.mean(speed) > 5.0


def test_a_firmware_update_shifts_cpu_and_memory_baselines_at_its_time():
    at_s = START_S + 10 * HOUR_S
    update = FirmwareUpdate(at_s, share=1.0, rollout_s=1.0, cpu_extra_pct=4.0, mem_free_shift=0.06)
    env = Environment(firmware_update=update)
    quiet, loud, clock = twins("evcharger-ec11", env)
    rows = run(quiet, loud, clock, 20, 60.0)
    before = [(a, b) for t, a, b in rows if t < at_s]
    after = [(a, b) for t, a, b in rows if t >= at_s + 300.0]  # past the boot work
    assert all(a == b for a, b in before)
    assert quiet.firmware == loud.firmware.removesuffix("+u1") != loud.firmware
    cpu_shift = statistics.mean(b["cpu_load_pct"] - a["cpu_load_pct"] for a, b in after)
    mem_ratio = statistics.mean(b["mem_free_kb"] / a["mem_free_kb"] for a, b in after)
    assert cpu_shift == pytest.approx(4.0, abs=0.5)
    assert mem_ratio == pytest.approx(0.94, abs=0.005)
    reached_s = env.update_at("dev-1")
    assert reached_s is not None
    rebooted = next(b for t, _, b in rows if t >= reached_s)
    assert rebooted["uptime_s"] <= 60.0  # installing the update rebooted it


def test_the_rollout_reaches_the_share_of_devices_it_names():
    env = Environment(seed=3, firmware_update=FirmwareUpdate(START_S, share=0.5))
    reached = [env.update_at(f"dev-{i}") for i in range(400)]
    updated = [t for t in reached if t is not None]
    assert 150 < len(updated) < 250
    assert all(START_S <= t <= START_S + 4 * HOUR_S for t in updated)


def test_a_mid_run_install_reports_nothing_before_and_starts_as_a_new_unit():
    install_s = START_S + 2 * 86_400 + 1234.0
    env = Environment(installs=MappingProxyType({"dev-1": install_s}))
    clock = ManualClock(START_S)
    device = build_device("heatpump-hp200", "dev-1", clock, seed=5, environment=env)
    samples = []
    while clock.now() < install_s + 3 * HOUR_S:
        clock.advance(60.0)
        if device.installed():
            samples.append((clock.now(), device.read_metrics()))
        else:
            assert not device.link_up()
            with pytest.raises(NotInstalled):
                device.read_metrics()
    assert samples[0][0] >= install_s
    assert samples[0][1]["uptime_s"] < 60.0
    assert samples[0][1]["compressor_run_h"] < 0.1
    assert device.installed_s == install_s


def test_a_holiday_sends_the_car_away_and_sets_the_heating_back():
    day = DAY0 + 1
    holiday = Holiday(day, away_share=1.0, setpoint_c=17.0)
    env = Environment(holidays=(holiday,))
    quiet, loud, clock = twins("evcharger-ec11", env)
    rows = run(quiet, loud, clock, 48, 300.0)
    on_holiday = [(a, b) for t, a, b in rows if 10.0 <= _hours_into(quiet, t, day) < 24.0]
    assert any(a["vehicle_connected"] == 1.0 for a, _ in on_holiday)  # a car would come
    assert all(b["vehicle_connected"] == 0.0 for _, b in on_holiday)
    assert all(b["current_a"] == 0.0 for _, b in on_holiday)

    quiet_hp, loud_hp, clock = twins("heatpump-hp200", env)
    rows = run(quiet_hp, loud_hp, clock, 48, 300.0)
    holiday_rows = [(a, b) for t, a, b in rows if 0.0 <= _hours_into(quiet_hp, t, day) < 24.0]
    before_rows = [(a, b) for t, a, b in rows if _hours_into(quiet_hp, t, day) < 0.0]
    heat_cut = statistics.mean(a["heat_output_kw"] - b["heat_output_kw"] for a, b in holiday_rows)
    assert heat_cut > 0.5  # UA 0.2-0.32 kW/K times a 4 K set-back, outside hot-water runs
    assert before_rows
    assert all(a == b for a, b in before_rows)


def _hours_into(device: SimulatedDevice, t_s: float, day: int) -> float:
    """Hours since the device's local midnight starting ``day`` (negative before it)."""
    offset = device.facts()["utc_offset_s"]
    assert isinstance(offset, float)
    return (t_s + offset - day * SECONDS_PER_DAY) / HOUR_S


def test_plan_environment_is_deterministic_and_lands_after_warm_up():
    ids = [f"dev-{i}" for i in range(20)]
    a = plan_environment(ids, seed=4, start_s=START_S, duration_s=7 * 86_400)
    b = plan_environment(ids, seed=4, start_s=START_S, duration_s=7 * 86_400)
    c = plan_environment(ids, seed=5, start_s=START_S, duration_s=7 * 86_400)
    assert a == b
    assert a != c
    assert a.fronts
    assert a.holidays
    assert a.firmware_update is not None
    assert len(a.installs) == 3
    settled = START_S + 86_400
    assert all(settled <= t < START_S + 7 * 86_400 for t in a.installs.values())
    assert all(h.day >= DAY0 + 1 for h in a.holidays)
    assert a.firmware_update.start_s >= settled
