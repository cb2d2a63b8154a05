"""``--speed 60`` and real time give the same outcome on a short seeded scenario: the
same expectations hold, and the cloud opens the same incident signatures on the same
devices. Both runs go through the in-process stack ``aftercare sim run`` starts (a
broker and a cloud on one clock at the run's speed), one after the other.

The fault is a frozen sensor after 68 samples of normal at 0.5 s intervals: the stuck
sensor detector learns from 60 samples, and a sensor sampled much faster than that
repeats its value too often when healthy for a freeze to stand out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.harness.options import StackOptions
from cloud.harness.stack import LocalStack
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.scenario import ScenarioResult, load_scenario, run_scenario
from firmware_sim.upload import RecordTarget

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

SCENARIO = """\
name: parity
fleet:
  seed: 3
  telemetry_interval_s: 0.5
  models: [{model: heatpump-hp200, count: 2}]
duration_s: 45
faults:
  - {at_s: 34, devices: {ids: [heatpump-hp200-00000]}, fault: sensor-stuck/supply_temp_c}
expect:
  - {kind: incident_within, signature: sensor-stuck/supply_temp_c, within_intervals: 20}
  - {kind: no_incident_on_healthy_devices}
  - {kind: every_seq_stored_once}
"""

Outcome = tuple[list[tuple[str, bool]], set[tuple[str, str]]]


async def _run(path: Path, speed: float) -> tuple[ScenarioResult, Outcome]:
    scenario = load_scenario(path).model_copy(update={"speed": speed})
    clock = ScaledClock(SystemClock().now(), speed)
    async with LocalStack(StackOptions(devices=0, speed=speed), clock=clock) as stack:
        target = RecordTarget(stack.api, stack.service_token, "parity test")
        result = await run_scenario(
            scenario, stack.mqtt_url, cloud=target, control=stack, clock=clock
        )
        incidents = await stack.incidents()
    held = [(e.name, e.passed) for e in result.expectations]
    return result, (held, {(i["signature"], i["device_id"]) for i in incidents})


async def test_speed_60_and_real_time_give_the_same_outcome(tmp_path: Path) -> None:
    path = tmp_path / "parity.yaml"
    path.write_text(SCENARIO)
    # One after the other: side by side, the fast run's 240 samples a second and the
    # real run share a process, and sampling that falls behind bunches samples together.
    real, real_outcome = await _run(path, 1.0)
    fast, fast_outcome = await _run(path, 60.0)
    assert real.passed, [e.detail for e in real.failures]
    assert fast_outcome == real_outcome
    assert real_outcome[1] == {("sensor-stuck/supply_temp_c", "heatpump-hp200-00000")}
    wall_fast = fast.finished_at - fast.started_at
    wall_real = real.finished_at - real.started_at
    assert wall_real >= 45, "real time: 45 device seconds take 45 real seconds"
    assert wall_fast < wall_real / 3, (wall_fast, wall_real)
