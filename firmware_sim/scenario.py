"""``aftercare sim run SCENARIO.yaml``: run a simulated fleet against a broker (and the
cloud behind it), apply the scenario's faults and events on device time, then check its
expectations and print a report.

The cloud's acknowledgements are what the delivery expectations read: a sample leaves an
agent's outbox only once the cloud has stored it, so ``max_unacknowledged_samples: 0``
means the cloud holds everything the fleet produced. Expectations about incidents and
stored seqs read the cloud's HTTP API after the run (``--api`` and ``--token``). A run
ends in a :class:`ScenarioResult` (each expectation's outcome in words);
:mod:`firmware_sim.run_report` turns it into the report a cloud records.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError

from device_agent.clock import Clock, ScaledClock, SystemClock
from device_agent.settings import ENV_PREFIX
from firmware_sim.care_expectations import failures_in_run
from firmware_sim.cloud_reader import observe_cloud
from firmware_sim.expectation_kinds import IncidentWithin
from firmware_sim.expectations import (
    AppliedFault,
    ExpectationResult,
    FleetObservation,
    RunObservation,
)
from firmware_sim.faults import FaultWindow
from firmware_sim.fleet import Fleet
from firmware_sim.owners import OwnerActions, unbox_at
from firmware_sim.progress import ProgressView, open_progress
from firmware_sim.scenario_plan import (
    PlannedFault,
    PlanProblem,
    fleet_spec,
    plan_faults,
    plan_outages,
)
from firmware_sim.scenario_schema import BrokerRestart, CloudRestart, Scenario
from firmware_sim.upload import RecordTarget
from firmware_sim.yaml_lines import YamlSource

__all__ = [
    "EnvironmentControl",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "load_scenario",
    "run_and_print",
    "run_scenario",
    "run_scenario_file",
]


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message says where (file:line: field)
    and why."""


def load_scenario(path: Path) -> Scenario:
    """The validated scenario; raises ScenarioError naming the file, line and field of
    each problem, including entries that cannot apply to this fleet (an unknown device
    id, a fault its model cannot suffer)."""
    try:
        text = path.read_text()
        source = YamlSource.parse(path.name, text)
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{source.where(e['loc'], missing=e['type'] == 'missing')}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ScenarioError("\n".join(problems)) from None
    scenario._source = source
    try:
        identities = fleet_spec(scenario, "mqtt://127.0.0.1:1883").identities()
        faults = plan_faults(scenario, identities, 0.0)
        plan_outages(scenario, identities, 0.0)
    except PlanProblem as exc:
        raise ScenarioError(f"{source.where(exc.loc)}: {exc}") from None
    scheduled = {f.fault.signature for f in faults}
    for index, item in enumerate(scenario.expectations):
        if isinstance(item, IncidentWithin) and item.signature not in scheduled:
            known = ", ".join(sorted(scheduled)) or "none"
            raise ScenarioError(
                f"{source.where(('expect', index, 'signature'))}: no fault in the schedule "
                f"has signature {item.signature!r}, so no device could show it "
                f"(scheduled: {known})"
            )
    return scenario


class EnvironmentControl(Protocol):
    """A broker and cloud this run started and may restart (an in-process deployment);
    a run against an external deployment has none and refuses restart events."""

    async def restart_broker(self, down_s: float) -> None: ...

    async def restart_cloud(self, down_s: float) -> None: ...

    async def box_codes(self, identities: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Register ``(model, device_id)`` as a manufacturing batch would; returns the
        claim code printed on each device's box."""
        ...


def check_runnable(
    scenario: Scenario, cloud: RecordTarget | None, control: EnvironmentControl | None
) -> None:
    """Refuse, before anything starts, a scenario this run cannot carry out or judge."""
    problems = []
    if control is None:
        for index, event in enumerate(scenario.events):
            if isinstance(event, BrokerRestart | CloudRestart):
                what = "broker" if isinstance(event, BrokerRestart) else "cloud"
                problems.append(
                    f"{scenario.where(('events', index))}: a {event.event} needs a {what} "
                    f"this run starts and can restart; this run targets an external {what}, "
                    "which it cannot restart: remove the event"
                )
    if control is None:
        for part in ("reliability_lab", "cloud_settings"):
            if getattr(scenario, part):
                problems.append(
                    f"{scenario.where((part,))}: {part} is given to a cloud this run "
                    "starts; this run targets an external cloud: drop --mqtt-url, or "
                    f"remove {part}"
                )
    if scenario.owners is not None and (control is None or cloud is None):
        problems.append(
            f"{scenario.where(('owners',))}: the simulated owners claim their devices with "
            "the codes from their boxes, which only a cloud this run starts can make: "
            "drop --mqtt-url, or remove the owners section"
        )
    if cloud is None:
        for index, item in scenario.needs_cloud:
            problems.append(
                f"{scenario.where(('expect', index))}: {item.kind} is judged from what the "
                "cloud recorded: give --api and --token (a service token), or "
                "AFTERCARE_API_URL and AFTERCARE_API_TOKEN"
            )
    if problems:
        raise ScenarioError("\n".join(problems))


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
    fault_logs: Mapping[str, tuple[FaultWindow, ...]] = field(default_factory=dict)
    """Per device, the ground truth of the faults it had (not part of the report)."""
    connects: Mapping[str, int] = field(default_factory=dict)
    """Per device, broker sessions its agent opened (more than one: it lost the broker)."""
    device_start_s: float = 0.0
    """Device time (epoch seconds) at the start of the run: ``at_s`` counts from it."""

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]


async def _progress(
    view: ProgressView,
    clock: Clock,
    t0: float,
    faults: Sequence[PlannedFault],
    every_s: float,
) -> None:
    """How far the run is, every ``every_s`` real seconds, until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        now = clock.now()
        view.show(now - t0, sum(1 for f in faults if f.fault.start_s <= now))


class _Restarts:
    """Broker and cloud restarts at their device times (refused earlier without a
    control). A restart under way when the run ends is finished, never cut short: a
    broker left down would fail the drain for the wrong reason."""

    def __init__(self, scenario: Scenario, clock: Clock, t0: float) -> None:
        self.events = sorted(
            (e for e in scenario.events if isinstance(e, BrokerRestart | CloudRestart)),
            key=lambda e: e.at_s,
        )
        self.clock = clock
        self.t0 = t0
        self.speed = scenario.speed
        self.under_way: asyncio.Task[None] | None = None

    async def run(self, control: EnvironmentControl | None) -> None:
        for event in self.events:
            assert control is not None  # check_runnable refused the scenario otherwise
            await asyncio.sleep(max(0.0, self.t0 + event.at_s - self.clock.now()) / self.speed)
            if isinstance(event, BrokerRestart):
                self.under_way = asyncio.create_task(control.restart_broker(event.down_s))
            else:
                self.under_way = asyncio.create_task(control.restart_cloud(event.down_s))
            await asyncio.shield(self.under_way)

    async def finish(self) -> None:
        """Wait for a restart under way; raises what it raised."""
        if self.under_way is not None:
            await self.under_way


@dataclass
class _Prepared:
    fleet: Fleet
    faults: list[PlannedFault]
    t0: float


def _prepare(
    scenario: Scenario, mqtt_url: str, clock: Clock, command_key: str | None = None
) -> _Prepared:
    """The fleet with the scenario's faults injected and outages set, on device time."""
    t0 = clock.now()
    spec = fleet_spec(scenario, mqtt_url)
    if command_key is not None:
        spec = dataclasses.replace(spec, command_key=command_key)
    fleet = Fleet(spec, clock)
    identities = fleet.spec.identities()
    faults = plan_faults(scenario, identities, t0)
    for planned in faults:
        fleet.inject(planned.device_id, planned.fault)
    for outage in plan_outages(scenario, identities, t0):
        fleet.cut_network(outage.device_ids, outage.start_s, outage.end_s)
    return _Prepared(fleet, faults, t0)


async def _observe_fleet(fleet: Fleet, drain_s: float) -> FleetObservation:
    """Who is connected at the end, then what is left once the fleet has drained."""
    with contextlib.suppress(TimeoutError):  # the stragglers are named by the check
        await fleet.wait_connected(timeout_s=1.0)
    not_connected = tuple(u.agent.device_id for u in fleet.units if not u.agent.connected.is_set())
    await fleet.drain(drain_s)
    return FleetObservation(
        devices=tuple(fleet.device_ids),
        not_connected=not_connected,
        unacknowledged={u.agent.device_id: len(u.agent.outbox) for u in fleet.units},
        samples_taken=sum(u.agent.stats.samples_taken for u in fleet.units),
        produced={u.agent.device_id: u.agent.stats.samples_taken for u in fleet.units},
    )


async def run_scenario(
    scenario: Scenario,
    mqtt_url: str,
    *,
    cloud: RecordTarget | None = None,
    control: EnvironmentControl | None = None,
    clock: Clock | None = None,
    progress_every_s: float | None = None,
    command_key: str | None = None,
) -> ScenarioResult:
    """Run the scenario, print its one-line summary and check its expectations.
    ``clock`` is device time (a ScaledClock at the scenario's speed unless given: a
    test shares one with the cloud it runs); progress shows on stderr every
    ``progress_every_s`` real seconds (its view's own pace unless given).
    ``command_key``: the cloud's public command key the devices pin, so they carry out
    its signed fixes (without one they refuse every command)."""
    check_runnable(scenario, cloud, control)
    wall = SystemClock()
    started_at = wall.now()
    if clock is None:
        clock = SystemClock() if scenario.speed == 1 else ScaledClock(started_at, scenario.speed)
    prepared = _prepare(scenario, mqtt_url, clock, command_key)
    fleet, t0 = prepared.fleet, prepared.t0
    restarts = _Restarts(scenario, clock, t0)
    view, every_s = open_progress(scenario.duration_s, scenario.fleet.size)
    owners = await _owners(scenario, prepared, cloud, control, clock)
    running = asyncio.create_task(fleet.run())
    helpers = [
        asyncio.create_task(
            _progress(view, clock, t0, prepared.faults, progress_every_s or every_s)
        ),
        asyncio.create_task(restarts.run(control)),
    ]
    try:
        await asyncio.sleep(scenario.duration_s / scenario.speed)
        ended = clock.now()
        for helper in helpers:
            helper.cancel()
        view.show(
            min(ended - t0, scenario.duration_s),
            sum(1 for f in prepared.faults if f.fault.start_s <= ended),
        )
        view.close()
        await restarts.finish()
        observed_fleet = await _observe_fleet(fleet, scenario.drain_s)
        summary = _report(scenario, fleet, owners)
    finally:
        for task in [*helpers, *([owners] if owners else [])]:
            task.cancel()
        running.cancel()
        await asyncio.gather(running, *helpers, return_exceptions=True)
        view.close()
        fleet.close()
    fault_logs = {u.agent.device_id: tuple(u.device.fault_log) for u in fleet.units}
    observed = RunObservation(
        fleet=observed_fleet,
        faults=tuple(
            AppliedFault(f.device_id, f.fault.signature, f.fault.start_s)
            for f in prepared.faults
            if f.fault.start_s < ended
        ),
        telemetry_interval_s=scenario.fleet.telemetry_interval_s,
        cloud=None
        if cloud is None or not scenario.needs_cloud
        else await asyncio.to_thread(
            observe_cloud,
            cloud.api_url,
            cloud.token,
            observed_fleet.devices,
            t0 - 1.0,
            scenario.cloud_reads,
        ),
        started_s=t0,
        failures=failures_in_run(fault_logs, ended),
    )
    return ScenarioResult(
        scenario,
        started_at,
        wall.now(),
        tuple(sorted({u.device.model for u in fleet.units})),
        tuple(item.check(observed) for item in scenario.expectations),
        summary,
        fault_logs,
        {u.agent.device_id: u.agent.stats.connects for u in fleet.units},
        t0,
    )


async def _owners(
    scenario: Scenario,
    prepared: _Prepared,
    cloud: RecordTarget | None,
    control: EnvironmentControl | None,
    clock: Clock,
) -> asyncio.Task[OwnerActions] | None:
    """The simulated owners' unboxing, due at ``owners.steps_after_s`` (None without an
    owners section; check_runnable made sure there is a cloud and control with one)."""
    if scenario.owners is None or cloud is None or control is None:
        return None
    codes = await control.box_codes(prepared.fleet.spec.identities())
    at_s = prepared.t0 + scenario.owners.steps_after_s
    return asyncio.create_task(unbox_at(cloud.api_url, codes, at_s, clock, scenario.speed))


def _report(scenario: Scenario, fleet: Fleet, owners: asyncio.Task[OwnerActions] | None) -> str:
    taken = sum(u.agent.stats.samples_taken for u in fleet.units)
    connects = sum(u.agent.stats.connects for u in fleet.units)
    resends = sum(u.agent.stats.resends for u in fleet.units)
    summary = (
        f"scenario {scenario.name}: {len(fleet.units)} devices, {taken} samples, "
        f"{connects} connects, {resends} resends, "
        f"{fleet.unacknowledged()} unacknowledged"
    )
    if owners is not None:
        done = owners.done() and not owners.cancelled() and owners.exception() is None
        summary += "; " + (owners.result().summary() if done else "the owners had not acted yet")
    print(summary, flush=True)
    return summary


def mqtt_url_or_default(mqtt_url: str | None) -> str:
    return mqtt_url or os.environ.get(ENV_PREFIX + "MQTT_URL", "mqtt://127.0.0.1:1883")


def print_verdict(result: ScenarioResult) -> None:
    """Each failed expectation in words, then PASSED or how many failed."""
    for failure in result.failures:
        print(f"FAILED {failure.name}: {failure.detail}", flush=True)
    failed = len(result.failures)
    print("PASSED" if not failed else f"{failed} expectation(s) failed", flush=True)


async def run_and_print(
    path: Path,
    mqtt_url: str | None,
    *,
    speed: float | None = None,
    cloud: RecordTarget | None = None,
    clock: Clock | None = None,
) -> ScenarioResult:
    """Run the scenario file (at ``speed`` instead of its own, if given) and print its
    report: the summary line, each failed expectation in words, then PASSED or how many
    failed. The devices pin the command key in ``AFTERCARE_COMMAND_KEY``, if set, as an
    agent would."""
    scenario = load_scenario(path)
    if speed is not None:
        scenario = scenario.model_copy(update={"speed": speed})
    result = await run_scenario(
        scenario,
        mqtt_url_or_default(mqtt_url),
        cloud=cloud,
        clock=clock,
        command_key=os.environ.get(ENV_PREFIX + "COMMAND_KEY") or None,
    )
    print_verdict(result)
    return result


async def run_scenario_file(path: Path, mqtt_url: str | None) -> int:
    """Run and print; 0 when every expectation held, 1 otherwise."""
    return 0 if (await run_and_print(path, mqtt_url)).passed else 1
