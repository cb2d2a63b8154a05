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

from pydantic import ValidationError

from cloud.harness.options import StackOptions
from cloud.harness.reliability import SimulatedLab
from cloud.harness.stack import LocalStack
from cloud.settings import CloudSettings
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.recording import ReportFiles, write_report_files
from firmware_sim.scenario import ScenarioError, load_scenario, print_verdict, run_scenario
from firmware_sim.scenario_plan import fleet_spec
from firmware_sim.scenario_schema import Scenario
from firmware_sim.upload import RecordTarget
from firmware_sim.wearout import LifeSpread

START_TIMEOUT_S = 30.0


def check_cloud_settings(scenario: Scenario) -> None:
    """Raises ScenarioError naming the file, line and setting the cloud would refuse."""
    for name in scenario.cloud_settings:
        if name not in CloudSettings.model_fields:
            raise ScenarioError(
                f"{scenario.where(('cloud_settings', name))}: the cloud has no setting {name!r}"
            )
    try:
        CloudSettings.model_validate(scenario.cloud_settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise ScenarioError(f"{scenario.where(('cloud_settings', name))}: {error['msg']}") from None


def reliability_lab(scenario: Scenario) -> SimulatedLab | None:
    """The scenario's test-rig histories: its fleet's models, with the lab's life spread
    (or the fleet's wear-out's), at its telemetry interval."""
    lab, wear = scenario.reliability_lab, scenario.fleet.wear_out
    if lab is None:
        return None
    fleet_life = LifeSpread(wear.scale_days, wear.shape, wear.min_days) if wear else LifeSpread()
    life = LifeSpread(
        lab.scale_days or fleet_life.scale_days,
        lab.shape or fleet_life.shape,
        lab.min_days or fleet_life.min_days,
    )
    models = {model for model, _ in fleet_spec(scenario, "mqtt://127.0.0.1:1883").identities()}
    return SimulatedLab(
        sorted(models),
        life,
        devices=lab.devices,
        seed=lab.seed,
        interval_s=scenario.fleet.telemetry_interval_s,
        healthy_days=lab.healthy_days,
        magnitude=wear.magnitude if wear else 1.0,
    )


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
    check_cloud_settings(scenario)
    stack = LocalStack(
        options, clock, cloud_overrides=scenario.cloud_settings, wear_runs=reliability_lab(scenario)
    )
    async with stack:
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
