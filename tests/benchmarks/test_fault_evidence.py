"""When a fault shows in the readings: a simulated device against its fault-free twin."""

from __future__ import annotations

from benchmarks.fault_evidence import EVIDENT_SCALES, EvidenceLog, acts_on
from benchmarks.fleet_detection import Outcome, SignatureRow, evident_recall, score
from cloud.incidents.tracker import IncidentOpened
from device_agent.clock import ManualClock
from firmware_sim.faults import Fault, FaultWindow
from firmware_sim.models import SimulatedDevice, build_device

START_S = 1_767_225_600.0
STEP_S = 60.0


def _pair(clock: ManualClock) -> tuple[SimulatedDevice, SimulatedDevice]:
    made = [build_device("heatpump-hp200", "hp-1", clock, 7) for _ in range(2)]
    return made[0], made[1]


def _run(
    device: SimulatedDevice, twin: SimulatedDevice, clock: ManualClock, samples: int
) -> tuple[EvidenceLog, list[float]]:
    """Step both as the benchmark does; returns the log and the largest per-sample
    difference of any metric, in that metric's scales."""
    log = EvidenceLog()
    scales = {name: spec.scale for name, spec in device.METRICS.items()}
    worst: list[float] = []
    for _ in range(samples):
        device.link_up()
        twin.link_up()
        readings, truth = device.read_metrics(), twin.read_metrics()
        worst.append(max(abs(readings[m] - truth[m]) / scales[m] for m in readings))
        log.observe(
            device.device_id, device.active_faults(), readings, truth, device.METRICS, clock.now()
        )
        clock.advance(STEP_S)
    return log, worst


def test_a_device_and_its_twin_read_the_same_until_a_fault_acts() -> None:
    clock = ManualClock(START_S)
    device, twin = _pair(clock)
    _, worst = _run(device, twin, clock, 600)
    assert max(worst) == 0.0


def test_a_drift_shows_once_it_has_moved_its_metric_three_scales() -> None:
    """A drift of one scale an hour (times its magnitude) shows after three hours, not at
    its start; one that ends within the hour never shows."""
    clock = ManualClock(START_S)
    device, twin = _pair(clock)
    drift = Fault.from_signature("sensor-drift/return_temp_c", START_S + 3600, None, 1.5)
    short = Fault.from_signature("sensor-drift/outdoor_temp_c", START_S + 3600, 1800, 1.0)
    device.inject(drift)
    device.inject(short)
    log, _ = _run(device, twin, clock, 6 * 60)
    shown_after_h = (log.first[("hp-1", drift.signature, drift.start_s)] - drift.start_s) / 3600
    assert EVIDENT_SCALES / 1.5 <= shown_after_h <= EVIDENT_SCALES / 1.5 + STEP_S / 3600
    assert ("hp-1", short.signature, short.start_s) not in log.first


def test_a_frozen_sensor_shows_at_once_and_faults_act_on_their_own_metrics() -> None:
    clock = ManualClock(START_S)
    device, twin = _pair(clock)
    stuck = Fault.from_signature("sensor-stuck/supply_temp_c", START_S + 600, None, 1.0)
    device.inject(stuck)
    log, _ = _run(device, twin, clock, 20)
    assert log.first[("hp-1", stuck.signature, stuck.start_s)] == START_S + 600
    assert acts_on(stuck) == ("supply_temp_c",)
    overheat = Fault.from_signature("overheat/connector", 0.0)
    assert acts_on(overheat) == ("connector_temp_c", "current_limit_a")


def test_recall_over_shown_faults_leaves_out_only_what_never_showed_and_was_not_found() -> None:
    """A found fault counts whether or not it showed (its delay from when it did); an
    unfound one counts against recall only if it showed."""
    end_s = START_S + 86_400
    shown = Fault.from_signature("sensor-drift/return_temp_c", START_S, None, 1.0)
    hidden = Fault.from_signature("sensor-drift/voltage_v", START_S, None, 1.0)
    found_hidden = Fault.from_signature("spike/current_a", START_S, None, 1.0)
    outcome = Outcome()
    for device_id, fault in (("a", shown), ("b", hidden), ("c", found_hidden)):
        window = FaultWindow(fault, fault.kind, fault.signature, START_S, None, None)
        outcome.faults.append((device_id, window))
    outcome.evidence.first[("a", shown.signature, START_S)] = START_S + 3 * 3600
    outcome.incidents.append(
        IncidentOpened("c", found_hidden.signature, START_S + 600, START_S, 0.9, {})
    )
    rows = score(outcome, STEP_S, end_s, START_S)
    assert rows[shown.signature] == SignatureRow(fn=1, evident_fn=1)
    assert rows[hidden.signature] == SignatureRow(fn=1)
    assert rows[found_hidden.signature].evident_delays == [10.0]
    assert evident_recall(rows) == 0.5
