"""``aftercare sim run SCENARIO.yaml`` without ``--mqtt-url``: the scenario runs against a
broker and a cloud this process starts (a :class:`LocalStack` without a fleet of its
own: the scenario runner builds the fleet), on ONE clock at the scenario's speed, so the
cloud's detectors and windows see the same device time as the devices. The stack is the
run's :class:`~firmware_sim.scenario.EnvironmentControl`: ``broker_restart`` and
``cloud_restart`` events restart its broker (same port) and its cloud (same database and
HTTP port). Cloud-side expectations read its API with its service token, no flags needed.
"""

from __future__ import annotations

from pathlib import Path

from cloud.harness.options import StackOptions
from cloud.harness.stack import LocalStack
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.recording import ReportFiles, write_report_files
from firmware_sim.scenario import load_scenario, print_verdict, run_scenario
from firmware_sim.upload import RecordTarget

START_TIMEOUT_S = 30.0


async def run_in_process(
    path: Path, *, speed: float | None = None, files: ReportFiles | None = None
) -> int:
    """0 when every expectation held, 1 otherwise; a ScenarioError (a ValueError) for a
    scenario that cannot run. The report is printed and written as ``files`` asks; it
    is not recorded anywhere else (the cloud it would go to stops with the run)."""
    scenario = load_scenario(path)
    if speed is not None:
        scenario = scenario.model_copy(update={"speed": speed})
    clock = ScaledClock(SystemClock().now(), scenario.speed)
    options = StackOptions(devices=0, speed=scenario.speed, start_timeout_s=START_TIMEOUT_S)
    async with LocalStack(options, clock=clock) as stack:
        reported_by = files.reported_by if files is not None else "aftercare sim run"
        result = await run_scenario(
            scenario,
            stack.mqtt_url,
            cloud=RecordTarget(stack.api, stack.service_token, reported_by),
            control=stack,
            clock=clock,
            command_key=stack.cloud.signer.public_key_text,
        )
    print_verdict(result)
    write_report_files(result, path, files)
    return 0 if result.passed else 1
