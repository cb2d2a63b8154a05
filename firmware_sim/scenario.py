"""``aftercare sim run SCENARIO.yaml``: run a simulated fleet against a broker (and the
cloud behind it), then check the scenario's expectations and print a report.

The cloud's acknowledgements are what the expectations read: a sample leaves an agent's
outbox only once the cloud has stored it, so ``max_unacknowledged_samples: 0`` means the
cloud holds everything the fleet produced. A run ends in a :class:`ScenarioResult` (each
expectation's outcome in words); :mod:`firmware_sim.run_report` turns it into the report
a cloud records.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from device_agent.clock import ScaledClock, SystemClock
from device_agent.settings import ENV_PREFIX
from firmware_sim.expectations import ExpectationResult, FleetObservation, check_expectations
from firmware_sim.fleet import ID_PREFIX, Fleet, FleetSpec
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
    id_prefix: str = Field(default="", pattern=f"^{ID_PREFIX.pattern}$")
    """Before every device id (``lab-``): keeps a test fleet apart from the devices a
    shared cloud already has."""
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


@dataclass(frozen=True)
class ScenarioResult:
    """How a run went: wall-clock times (epoch seconds), the fleet, and each
    expectation's outcome in the order they were checked."""

    scenario: Scenario
    started_at: float
    finished_at: float
    models: tuple[str, ...]
    expectations: tuple[ExpectationResult, ...]
    summary: str

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]


def _spec(scenario: Scenario, mqtt_url: str) -> FleetSpec:
    spec = FleetSpec(
        devices=scenario.fleet.devices,
        mqtt_url=mqtt_url,
        id_prefix=scenario.fleet.id_prefix,
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
    return spec


async def run_scenario(scenario: Scenario, mqtt_url: str) -> ScenarioResult:
    """Run the scenario, print its one-line summary and check its expectations."""
    wall = SystemClock()
    started_at = wall.now()
    clock = SystemClock() if scenario.speed == 1 else ScaledClock(started_at, scenario.speed)
    fleet = Fleet(_spec(scenario, mqtt_url), clock)
    running = asyncio.create_task(fleet.run())
    try:
        await asyncio.sleep(scenario.duration_s / scenario.speed)
        if scenario.expect.all_connected:
            with contextlib.suppress(TimeoutError):  # the stragglers are named below
                await fleet.wait_connected(timeout_s=1.0)
        not_connected = tuple(
            u.agent.device_id for u in fleet.units if not u.agent.connected.is_set()
        )
        await fleet.drain(scenario.expect.drain_timeout_s)
        observed = FleetObservation(
            devices=tuple(fleet.device_ids),
            not_connected=not_connected,
            unacknowledged={u.agent.device_id: len(u.agent.outbox) for u in fleet.units},
            samples_taken=sum(u.agent.stats.samples_taken for u in fleet.units),
        )
        summary = _report(scenario, fleet)
        models = tuple(sorted({u.device.model for u in fleet.units}))
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        fleet.close()
    outcomes = check_expectations(
        observed,
        all_connected=scenario.expect.all_connected,
        max_unacknowledged=scenario.expect.max_unacknowledged_samples,
    )
    return ScenarioResult(scenario, started_at, wall.now(), models, tuple(outcomes), summary)


def _report(scenario: Scenario, fleet: Fleet) -> str:
    taken = sum(u.agent.stats.samples_taken for u in fleet.units)
    connects = sum(u.agent.stats.connects for u in fleet.units)
    resends = sum(u.agent.stats.resends for u in fleet.units)
    summary = (
        f"scenario {scenario.name}: {len(fleet.units)} devices, {taken} samples, "
        f"{connects} connects, {resends} resends, "
        f"{fleet.unacknowledged()} unacknowledged"
    )
    print(summary, flush=True)
    return summary


async def run_and_print(path: Path, mqtt_url: str | None) -> ScenarioResult:
    """Run the scenario file and print its report: the summary line, each failed
    expectation in words, then PASSED or how many failed."""
    scenario = load_scenario(path)
    url = mqtt_url or os.environ.get(ENV_PREFIX + "MQTT_URL", "mqtt://127.0.0.1:1883")
    result = await run_scenario(scenario, url)
    for failure in result.failures:
        print(f"FAILED {failure.name}: {failure.detail}", flush=True)
    failed = len(result.failures)
    print("PASSED" if not failed else f"{failed} expectation(s) failed", flush=True)
    return result


async def run_scenario_file(path: Path, mqtt_url: str | None) -> int:
    """Run and print; 0 when every expectation held, 1 otherwise."""
    return 0 if (await run_and_print(path, mqtt_url)).passed else 1
