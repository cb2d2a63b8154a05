"""A scenario's expectations, checked against what the run observed: each outcome says in
plain words what held or what failed and by how much, names the devices involved and
gives the measured amount against its limit.

Pure: the run gathers a :class:`FleetObservation`, these functions judge it. New kinds of
expectation (an incident with a signature within so many intervals...) add a check here
and fill the same :class:`ExpectationResult`, which is what a run's report carries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    produced: Mapping[str, int] = field(default_factory=dict)
    """Samples each agent produced: its seqs 0 to n - 1 (an outbox numbers from 0)."""


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


@dataclass(frozen=True)
class AppliedFault:
    """A fault the scenario put on a device, from ``start_s`` (device epoch seconds)."""

    device_id: str
    signature: str
    start_s: float


@dataclass(frozen=True)
class ObservedFix:
    """One fix the cloud sent for an incident: ``verified`` is the telemetry's verdict
    (None while pending); times in device epoch seconds."""

    action: str
    verified: bool | None
    sent_at_s: float
    result_at_s: float | None = None


@dataclass(frozen=True)
class ObservedIncident:
    """An incident the cloud opened, as its API lists it (``opened_at`` in device time:
    the cloud stamps it with the sample that opened it), with its fix attempts and when
    a verified fix resolved it."""

    device_id: str
    signature: str
    opened_at_s: float
    fixes: tuple[ObservedFix, ...] = ()
    resolved_at_s: float | None = None


@dataclass(frozen=True)
class ObservedSetup:
    """A device's setup checklist as the cloud computes it: activated (every step done)
    and when, and each step's (id, state, reason) in checklist order."""

    activated: bool
    activated_at_s: float | None
    steps: tuple[tuple[str, str, str | None], ...] = ()


@dataclass(frozen=True)
class ObservedOutreach:
    """An outreach item the cloud created for a device (``created_at`` device time)."""

    device_id: str
    kind: str
    created_at_s: float


@dataclass(frozen=True)
class CloudObservation:
    """What the cloud held for this fleet after the run: its incidents and, per device,
    the seqs it stored (as many times as it returned each). ``error`` says why it could
    not be read; the expectations that need it then fail with that reason."""

    incidents: tuple[ObservedIncident, ...] = ()
    stored_seqs: Mapping[str, Sequence[int]] = field(default_factory=dict)
    error: str | None = None
    setups: Mapping[str, ObservedSetup | None] = field(default_factory=dict)
    """Per device, its setup (None: the cloud has no such device); read only when an
    expectation needs it."""
    outreach: tuple[ObservedOutreach, ...] | None = None
    """The fleet's outreach items; None when no expectation asked for them."""


@dataclass(frozen=True)
class RunObservation:
    """Everything a run's expectations are judged on: the fleet at its end, the faults
    the scenario applied, the telemetry interval (delays are counted in it) and, when
    the run could read the cloud, what the cloud held."""

    fleet: FleetObservation
    faults: tuple[AppliedFault, ...] = ()
    telemetry_interval_s: float = 60.0
    cloud: CloudObservation | None = None
    started_s: float | None = None
    """Device time (epoch seconds) at the start of the run."""
    failures: Mapping[str, float] = field(default_factory=dict)
    """Devices whose worn part failed during the run, and when (device epoch seconds):
    the simulator's ground truth (:func:`failures_in_run`)."""


MAX_DEVICES_IN_WORDS = 5
"""Devices a detail spells out with their amounts; the ``devices`` field names more."""


def _listing(amounts: Mapping[str, str]) -> str:
    """``a (x), b (y) and 3 more`` for the first devices of ``amounts``."""
    shown = [f"{d} ({what})" for d, what in list(amounts.items())[:MAX_DEVICES_IN_WORDS]]
    rest = len(amounts) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest else "")


def _names(devices: Sequence[str]) -> str:
    shown = list(devices[:MAX_DEVICES_IN_WORDS])
    rest = len(devices) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest else "")


def _unjudged(name: str, observed: RunObservation) -> ExpectationResult | None:
    if observed.cloud is None:
        return ExpectationResult(name, False, "not judged: the run did not read the cloud")
    if observed.cloud.error:
        return ExpectationResult(name, False, f"not judged: {observed.cloud.error}")
    return None


def _intervals(n: float) -> str:
    return f"{n:g} interval" if n == 1 else f"{n:g} intervals"


def _fault_starts(observed: RunObservation, signature: str | None) -> dict[str, float]:
    """Each faulted device and when its first fault (of ``signature``, if given) began."""
    starts: dict[str, float] = {}
    for f in observed.faults:
        if signature is None or f.signature == signature:
            starts[f.device_id] = min(starts.get(f.device_id, f.start_s), f.start_s)
    return dict(sorted(starts.items()))


def check_incident_within(
    observed: RunObservation, signature: str, within_intervals: float
) -> ExpectationResult:
    """Each device given a ``signature`` fault has an incident of that signature opened
    at most ``within_intervals`` telemetry intervals after the fault began."""
    name = f"incident {signature} within {_intervals(within_intervals)}"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    interval = observed.telemetry_interval_s
    delays: dict[str, float] = {}
    for device, start in _fault_starts(observed, signature).items():
        opened = [
            i.opened_at_s
            for i in observed.cloud.incidents
            if i.device_id == device and i.signature == signature and i.opened_at_s >= start
        ]
        if opened:
            delays[device] = (min(opened) - start) / interval
    faulted = _fault_starts(observed, signature)
    missing = [d for d in faulted if d not in delays]
    late = {d: v for d, v in delays.items() if v > within_intervals}
    slowest = max(delays.values(), default=None)
    of = "the faulted device" if len(faulted) == 1 else f"the {len(faulted):,} faulted devices"
    if not missing and not late:
        worst = max(delays, key=lambda d: delays[d])
        detail = (
            f"an incident {signature} opened on {'' if len(faulted) == 1 else 'each of '}{of} "
            f"within {_intervals(within_intervals)} of {interval:g} s (after "
            f"{delays[worst]:.1f} at the slowest, on {worst})"
        )
        return ExpectationResult(name, True, detail, (), slowest, within_intervals)
    parts = []
    if missing:
        parts.append(
            f"no incident {signature} opened on {len(missing):,} of {of}: {_names(missing)}"
        )
    if late:
        words = {d: f"after {v:.1f}, {v - within_intervals:.1f} late" for d, v in late.items()}
        parts.append(
            f"on {_count(len(late), 'device')} it opened later than "
            f"{_intervals(within_intervals)} of {interval:g} s: {_listing(words)}"
        )
    named, more = _named(missing + sorted(late))
    return ExpectationResult(name, False, "; ".join(parts) + more, named, slowest, within_intervals)


def check_no_incident_on_healthy(observed: RunObservation) -> ExpectationResult:
    """No incident on a device the scenario gave no fault."""
    name = "no_incident_on_healthy_devices"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    faulted = _fault_starts(observed, None)
    healthy = [d for d in observed.fleet.devices if d not in faulted]
    wrong: dict[str, list[str]] = {}
    for incident in observed.cloud.incidents:
        if incident.device_id in healthy:
            wrong.setdefault(incident.device_id, []).append(incident.signature)
    count = sum(len(s) for s in wrong.values())
    if not wrong:
        detail = f"no incident opened on any of the {_count(len(healthy), 'healthy device')}"
        return ExpectationResult(name, True, detail, (), 0, 0)
    devices = sorted(wrong)
    named, more = _named(devices)
    detail = (
        f"{_count(count, 'incident')} opened on {len(devices):,} of the "
        f"{_count(len(healthy), 'healthy device')}, {count:,} over the limit of 0: "
        f"{_listing({d: ', '.join(sorted(wrong[d])) for d in devices})}{more}"
    )
    return ExpectationResult(name, False, detail, named, count, 0)


def _seq_trouble(produced: int, stored: Sequence[int]) -> tuple[int, int, int]:
    """(missing, stored more than once, not produced) for one device."""
    counts = Counter(stored)
    missing = sum(1 for s in range(produced) if s not in counts)
    twice = sum(n - 1 for n in counts.values() if n > 1)
    strange = sum(1 for s in counts if not 0 <= s < produced)
    return missing, twice, strange


def check_every_seq_stored_once(observed: RunObservation) -> ExpectationResult:
    """Per device, the cloud stored each seq the agent produced exactly once: no gap,
    no duplicate, nothing the agent never produced."""
    name = "every_seq_stored_once"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    troubles: dict[str, tuple[int, int, int]] = {}
    for device in observed.fleet.devices:
        produced = observed.fleet.produced.get(device, 0)
        trouble = _seq_trouble(produced, observed.cloud.stored_seqs.get(device, ()))
        if any(trouble):
            troubles[device] = trouble
    total = sum(observed.fleet.produced.get(d, 0) for d in observed.fleet.devices)
    devices = len(observed.fleet.devices)
    if not troubles:
        detail = (
            f"every one of the {_count(total, 'sample')} the "
            f"{_count(devices, 'device')} produced is stored exactly once"
        )
        return ExpectationResult(name, True, detail, (), 0, 0)
    missing, twice, strange = (sum(t[i] for t in troubles.values()) for i in range(3))
    amounts = []
    if missing:
        amounts.append(f"{missing:,} of the {total:,} seqs produced are missing")
    if twice:
        copies = "copy" if twice == 1 else "copies"
        amounts.append(f"{twice:,} extra {copies} of seqs stored more than once")
    if strange:
        amounts.append(f"{strange:,} stored seqs were never produced")
    words = {
        d: ", ".join(
            w
            for n, w in zip(t, ("missing", "duplicated", "never produced"), strict=True)
            for w in ([f"{n:,} {w}"] if n else [])
        )
        for d, t in troubles.items()
    }
    named, more = _named(sorted(troubles))
    detail = (
        f"on {len(troubles):,} of {_count(devices, 'device')} the cloud did not store each "
        f"seq once: {'; '.join(amounts)}: {_listing(words)}{more}"
    )
    return ExpectationResult(name, False, detail, named, missing + twice + strange, 0)
