"""``aftercare sim run SCENARIO.yaml``: run a simulated fleet against a broker (and the
cloud behind it), then check the scenario's expectations and print a report.

The cloud's acknowledgements are what the expectations read: a sample leaves an agent's
outbox only once the cloud has stored it, so ``max_unacknowledged_samples: 0`` means the
cloud holds everything the fleet produced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from device_agent.clock import ScaledClock, SystemClock
from device_agent.settings import ENV_PREFIX
from firmware_sim.fleet import Fleet, FleetSpec
from firmware_sim.wearout import LifeSpread


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message says where and why."""


class WearOutSection(BaseModel):
    """Devices whose wearing part wears out and fails (``wear-out/connector``,
    ``wear-out/compressor``): a ``share`` of the fleet, starting within a day after
    ``after_s`` of device time, failing after a Weibull time to failure."""

    model_config = ConfigDict(extra="forbid")

    share: float = Field(gt=0, le=1)
    after_s: float = Field(default=3 * 3600.0, ge=0)
    scale_days: float = Field(default=20.0, gt=0)
    shape: float = Field(default=2.5, gt=0)
    min_days: float = Field(default=2.0, gt=0)
    magnitude: float = Field(default=1.0, gt=0)


class FleetSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    devices: int = Field(ge=1, le=100_000)
    models: list[str] | None = None
    seed: int = 1
    telemetry_interval_s: float = Field(default=5.0, gt=0)
    wear_out: WearOutSection | None = None


class Expectations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all_connected: bool = True
    max_unacknowledged_samples: int | None = Field(default=0, ge=0)
    drain_timeout_s: float = Field(default=30.0, gt=0)
    """Real seconds the fleet gets, after the run, to deliver what it still holds."""


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "scenario"
    fleet: FleetSection
    duration_s: float = Field(gt=0)
    speed: float = Field(default=1.0, gt=0, le=10_000)
    expect: Expectations = Field(default_factory=Expectations)


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from None


async def run_scenario(scenario: Scenario, mqtt_url: str) -> list[str]:
    """Run the scenario; returns the failed expectations (empty when all held)."""
    clock = (
        SystemClock() if scenario.speed == 1 else ScaledClock(SystemClock().now(), scenario.speed)
    )
    spec = FleetSpec(
        devices=scenario.fleet.devices,
        mqtt_url=mqtt_url,
        seed=scenario.fleet.seed,
        telemetry_interval_s=scenario.fleet.telemetry_interval_s,
    )
    if scenario.fleet.models:
        spec = dataclasses.replace(spec, models=scenario.fleet.models)
    wear = scenario.fleet.wear_out
    if wear is not None:
        spec = dataclasses.replace(
            spec,
            wear_out_share=wear.share,
            faults_after_s=wear.after_s,
            wear_out_life=LifeSpread(wear.scale_days, wear.shape, wear.min_days),
            wear_out_magnitude=wear.magnitude,
        )
    fleet = Fleet(spec, clock)
    failures: list[str] = []
    running = asyncio.create_task(fleet.run())
    try:
        await asyncio.sleep(scenario.duration_s / scenario.speed)
        if scenario.expect.all_connected:
            try:
                await fleet.wait_connected(timeout_s=1.0)
            except TimeoutError as exc:
                failures.append(f"all_connected: {exc}")
        await fleet.drain(scenario.expect.drain_timeout_s)
        limit = scenario.expect.max_unacknowledged_samples
        if limit is not None and fleet.unacknowledged() > limit:
            failures.append(f"max_unacknowledged_samples: {fleet.unacknowledged()} > {limit}")
        _report(scenario, fleet)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        fleet.close()
    return failures


def _report(scenario: Scenario, fleet: Fleet) -> None:
    taken = sum(u.agent.stats.samples_taken for u in fleet.units)
    connects = sum(u.agent.stats.connects for u in fleet.units)
    resends = sum(u.agent.stats.resends for u in fleet.units)
    print(
        f"scenario {scenario.name}: {len(fleet.units)} devices, {taken} samples, "
        f"{connects} connects, {resends} resends, "
        f"{fleet.unacknowledged()} unacknowledged",
        flush=True,
    )


async def run_scenario_file(path: Path, mqtt_url: str | None) -> int:
    scenario = load_scenario(path)
    url = mqtt_url or os.environ.get(ENV_PREFIX + "MQTT_URL", "mqtt://127.0.0.1:1883")
    failures = await run_scenario(scenario, url)
    for failure in failures:
        print(f"FAILED {failure}", flush=True)
    print("PASSED" if not failures else f"{len(failures)} expectation(s) failed", flush=True)
    return 0 if not failures else 1
