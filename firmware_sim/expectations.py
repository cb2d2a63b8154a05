"""A scenario's expectations, checked against what the run observed: each outcome says in
plain words what held or what failed and by how much, names the devices involved and
gives the measured amount against its limit.

Pure: the run gathers a :class:`FleetObservation`, these functions judge it. New kinds of
expectation (an incident with a signature within so many intervals...) add a check here
and fill the same :class:`ExpectationResult`, which is what a run's report carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_DEVICES_NAMED = 100
"""Devices one outcome names; the detail says how many more there were."""


@dataclass(frozen=True)
class ExpectationResult:
    name: str
    passed: bool
    detail: str
    devices: tuple[str, ...] = ()
    measured: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class FleetObservation:
    """What a run saw at its end: every device, those without a broker session, and the
    samples still waiting in each device's outbox for the cloud's acknowledgement."""

    devices: tuple[str, ...]
    not_connected: tuple[str, ...]
    unacknowledged: Mapping[str, int]
    samples_taken: int


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {thing}s"


def _named(devices: list[str]) -> tuple[tuple[str, ...], str]:
    """The devices to name, and what to add to the detail when some were left out."""
    if len(devices) <= MAX_DEVICES_NAMED:
        return tuple(devices), ""
    return tuple(devices[:MAX_DEVICES_NAMED]), f" (the first {MAX_DEVICES_NAMED} are listed)"


def check_all_connected(observed: FleetObservation) -> ExpectationResult:
    total = len(observed.devices)
    missing = sorted(observed.not_connected)
    connected = total - len(missing)
    if not missing:
        every = "the one device" if total == 1 else f"all {total:,} devices"
        return ExpectationResult(
            "all_connected", True, f"{every} connected to the broker", (), connected, total
        )
    named, more = _named(missing)
    if connected == 0:
        detail = f"none of the {_count(total, 'device')} connected to the broker{more}"
    else:
        detail = (
            f"{len(missing):,} of {_count(total, 'device')} did not connect to the broker "
            f"(only {connected:,} did){more}"
        )
    return ExpectationResult("all_connected", False, detail, named, connected, total)


def check_unacknowledged(observed: FleetObservation, limit: int) -> ExpectationResult:
    """At most ``limit`` samples may still wait in outboxes once the run has drained."""
    waiting = {d: n for d, n in observed.unacknowledged.items() if n > 0}
    left = sum(waiting.values())
    taken = _count(observed.samples_taken, "sample")
    name = "max_unacknowledged_samples"
    if left == 0:
        return ExpectationResult(
            name, True, f"the cloud acknowledged every one of the {taken} taken", (), 0, limit
        )
    devices = sorted(waiting, key=lambda d: (-waiting[d], d))
    named, more = _named(devices)
    on = f"on {_count(len(devices), 'device')}{more}"
    if left <= limit:
        detail = (
            f"{left:,} of the {taken} taken were not acknowledged by the cloud, within "
            f"the limit of {limit:,} ({on})"
        )
        return ExpectationResult(name, True, detail, named, left, limit)
    detail = (
        f"{left:,} of the {taken} taken were never acknowledged by the cloud, "
        f"{left - limit:,} over the limit of {limit:,}; they stayed {on}"
    )
    return ExpectationResult(name, False, detail, named, left, limit)


def check_expectations(
    observed: FleetObservation, *, all_connected: bool, max_unacknowledged: int | None
) -> list[ExpectationResult]:
    """The outcome of every expectation the scenario asks for, in a fixed order."""
    outcomes = []
    if all_connected:
        outcomes.append(check_all_connected(observed))
    if max_unacknowledged is not None:
        outcomes.append(check_unacknowledged(observed, max_unacknowledged))
    return outcomes
