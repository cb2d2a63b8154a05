"""A validated scenario turned into what a run does: the fleet's spec, which devices each
fault and outage hits, and when (device epoch seconds).

Pure and reproducible: the same scenario and start time give the same plan (a ``share``
is drawn from the fleet's seed). A selector or fault that cannot apply to this fleet
raises :class:`PlanProblem` with the ``loc`` of the entry, so the loader can name its line.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from device_agent.clock import ManualClock
from firmware_sim.faults import Fault, InvalidFault
from firmware_sim.fleet import FleetSpec
from firmware_sim.models import build_device
from firmware_sim.scenario_schema import (
    ByIds,
    ByModel,
    ByShare,
    NetworkOutage,
    Scenario,
)
from firmware_sim.wearout import LifeSpread

__all__ = ["Outage", "PlanProblem", "PlannedFault", "fleet_spec", "plan_faults", "plan_outages"]

Identities = Sequence[tuple[str, str]]
"""(model, device id) of every device, in fleet order."""


class PlanProblem(ValueError):
    """An entry that cannot apply to this fleet; ``loc`` is where it is in the file."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class PlannedFault:
    device_id: str
    fault: Fault


@dataclass(frozen=True)
class Outage:
    device_ids: tuple[str, ...]
    start_s: float
    end_s: float


def real_time_pace(telemetry_interval_s: float, speed: float) -> float:
    """Real seconds between the agents' flushes and the fleet's looks at its links: half
    a telemetry interval of device time, within [0.05 s, 2 s]. A fixed pace would, on a
    fast clock, hold samples and command results back for many intervals and start
    devices or end outages far from when the scenario said."""
    return min(2.0, max(0.05, telemetry_interval_s / speed / 2))


def fleet_spec(scenario: Scenario, mqtt_url: str) -> FleetSpec:
    fleet = scenario.fleet
    pace_s = real_time_pace(fleet.telemetry_interval_s, scenario.speed)
    spec = FleetSpec(
        devices=fleet.size,
        mqtt_url=mqtt_url,
        id_prefix=fleet.id_prefix,
        seed=fleet.seed,
        telemetry_interval_s=fleet.telemetry_interval_s,
        flush_interval_s=pace_s,
        pace_s=pace_s,
    )
    groups = fleet.groups
    if groups:
        models = [g.model for g in groups for _ in range(g.count)]
        spec = dataclasses.replace(spec, models=models)
        firmware = {
            device_id: group.firmware
            for (_, device_id), group in zip(
                spec.identities(), [g for g in groups for _ in range(g.count)], strict=True
            )
            if group.firmware
        }
        spec = dataclasses.replace(spec, firmware_versions=firmware)
    elif fleet.models:
        spec = dataclasses.replace(spec, models=[m for m in fleet.models if isinstance(m, str)])
    wear = fleet.wear_out
    if wear is not None:
        spec = dataclasses.replace(
            spec,
            wear_out_share=wear.share,
            faults_after_s=wear.after_s,
            wear_out_life=LifeSpread(wear.scale_days, wear.shape, wear.min_days),
            wear_out_magnitude=wear.magnitude,
        )
    return spec


def select(
    selector: ByIds | ByModel | ByShare,
    identities: Identities,
    prefix: str,
    rng: random.Random,
    loc: tuple[int | str, ...],
) -> list[str]:
    """The chosen device ids, in fleet order."""
    ids = [device_id for _, device_id in identities]
    if isinstance(selector, ByIds):
        chosen = []
        for index, name in enumerate(selector.ids):
            device_id = name if name in ids else prefix + name
            if device_id not in ids:
                raise PlanProblem(
                    (*loc, "ids", index),
                    f"no device {name!r} in this fleet (its ids run {ids[0]} .. {ids[-1]})",
                )
            chosen.append(device_id)
        return [d for d in ids if d in chosen]
    if isinstance(selector, ByModel):
        of_model = [d for m, d in identities if m == selector.model]
        if len(of_model) < selector.count:
            raise PlanProblem(
                (*loc, "count"),
                f"the fleet has {len(of_model)} {selector.model} devices, not {selector.count}",
            )
        return of_model[: selector.count]
    count = max(1, round(selector.share * len(ids)))
    picked = set(rng.sample(ids, count))
    return [d for d in ids if d in picked]


def plan_faults(scenario: Scenario, identities: Identities, t0: float) -> list[PlannedFault]:
    """Every scheduled fault on every device it hits; raises PlanProblem for a fault the
    chosen device's model cannot suffer."""
    model_of = {d: m for m, d in identities}
    probes = {}
    planned = []
    for index, entry in enumerate(scenario.faults):
        loc: tuple[int | str, ...] = ("faults", index)
        rng = random.Random(f"{scenario.fleet.seed}/faults/{index}")
        chosen = select(entry.devices, identities, scenario.fleet.id_prefix, rng, (*loc, "devices"))
        fault = Fault.from_signature(
            entry.fault, t0 + entry.at_s, entry.duration_s, entry.magnitude
        )
        for device_id in chosen:
            model = model_of[device_id]
            if model not in probes:
                probes[model] = build_device(model, "probe", ManualClock(t0), 0)
            try:
                probes[model].inject(fault)
            except InvalidFault as exc:
                raise PlanProblem((*loc, "fault"), f"{device_id}: {exc}") from None
            planned.append(PlannedFault(device_id, fault))
    return planned


def plan_outages(scenario: Scenario, identities: Identities, t0: float) -> list[Outage]:
    outages = []
    for index, event in enumerate(scenario.events):
        if isinstance(event, NetworkOutage):
            rng = random.Random(f"{scenario.fleet.seed}/events/{index}")
            loc = ("events", index, "devices")
            chosen = select(event.devices, identities, scenario.fleet.id_prefix, rng, loc)
            start = t0 + event.at_s
            outages.append(Outage(tuple(chosen), start, start + event.duration_s))
    return outages
