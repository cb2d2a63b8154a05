"""Expectations about what the cloud did for the fleet after a fault, at setup and before
a failure: a verified recovery, a completed activation, an outreach ahead of the failure.

Pure, like :mod:`firmware_sim.expectations`: each check judges a :class:`RunObservation`
and says in words which devices held, which did not and by how much.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from firmware_sim.expectations import (
    ExpectationResult,
    ObservedIncident,
    RunObservation,
    _count,
    _listing,
    _named,
    _names,
    _unjudged,
)
from firmware_sim.faults import Fault, FaultWindow, InvalidFault, remedy_for

__all__ = [
    "check_activation_within",
    "check_outreach_before_failure",
    "check_verified_recovery",
    "failures_in_run",
    "remotely_fixable",
]

ON_SITE = "service_visit"


def remotely_fixable(signature: str) -> bool:
    """A fault some remote action clears (not only a service visit): a worn part is not."""
    try:
        fault = Fault.from_signature(signature, 0.0)
    except InvalidFault:
        return False
    return fault.remote_fix and any(a != ON_SITE for a in remedy_for(fault).clears)


def failures_in_run(logs: Mapping[str, Sequence[FaultWindow]], ended_s: float) -> dict[str, float]:
    """Per device, when its worn part failed before ``ended_s``: a part replaced before
    its failure time (its window ended earlier) did not fail."""
    failed: dict[str, float] = {}
    for device, windows in logs.items():
        for w in windows:
            at = w.failure_s
            if at is None or at > ended_s or (w.end_s is not None and w.end_s < at):
                continue
            failed[device] = min(failed.get(device, at), at)
    return dict(sorted(failed.items()))


def _seconds(s: float) -> str:
    return f"{s:,.0f} s"


def _recovery(incidents: Iterable[ObservedIncident], start: float) -> tuple[float | None, str]:
    """How long after ``start`` a verified fix recovered the device, or why none did."""
    after = [i for i in incidents if i.opened_at_s >= start]
    if not after:
        return None, "no incident"
    fixes = [f for i in after for f in i.fixes]
    if not fixes:
        return None, f"{_count(len(after), 'incident')}, no fix sent"
    times = []
    for incident in after:
        for fix in incident.fixes:
            if fix.verified:
                times.append(incident.resolved_at_s or fix.result_at_s or fix.sent_at_s)
    if times:
        return min(times) - start, ""
    failed = sum(1 for f in fixes if f.verified is False)
    pending = len(fixes) - failed
    words = [f"{failed:,} failed"] if failed else []
    words += [f"{pending:,} not verified yet"] if pending else []
    sent = "1 fix" if len(fixes) == 1 else f"{len(fixes):,} fixes"
    return None, f"{sent} sent, {' and '.join(words)}"


def check_verified_recovery(observed: RunObservation, within_s: float) -> ExpectationResult:
    """Each device given a fault a remote fix can clear has an incident whose fix the
    telemetry verified at most ``within_s`` device seconds after the fault began."""
    name = f"verified recovery within {_seconds(within_s)}"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    starts: dict[str, float] = {}
    for f in observed.faults:
        if remotely_fixable(f.signature):
            starts[f.device_id] = min(starts.get(f.device_id, f.start_s), f.start_s)
    if not starts:
        detail = "no device had a fault a remote fix can clear: nothing to recover from"
        return ExpectationResult(name, True, detail, (), 0, within_s)
    taken: dict[str, float] = {}
    why_not: dict[str, str] = {}
    for device, start in sorted(starts.items()):
        mine = (i for i in observed.cloud.incidents if i.device_id == device)
        after, why = _recovery(mine, start)
        if after is None:
            why_not[device] = why
        else:
            taken[device] = after
    late = {d: s for d, s in taken.items() if s > within_s}
    slowest = max(taken.values(), default=None)
    if not why_not and not late:
        worst = max(taken, key=lambda d: taken[d])
        each = (
            "the faulted device"
            if len(taken) == 1
            else f"each of the {len(taken):,} faulted devices"
        )
        detail = (
            f"a verified fix recovered {each} "
            f"within {_seconds(within_s)} (after {_seconds(taken[worst])} at the slowest, "
            f"on {worst})"
        )
        return ExpectationResult(name, True, detail, (), slowest, within_s)
    parts = []
    on_time = {d: s for d, s in taken.items() if d not in late}
    if why_not:
        parts.append(
            f"{len(why_not):,} of {_count(len(starts), 'faulted device')} did not recover: "
            f"{_listing(why_not)}"
        )
    if late:
        words = {d: f"after {_seconds(s)}, {_seconds(s - within_s)} late" for d, s in late.items()}
        parts.append(f"{_count(len(late), 'device')} recovered too late: {_listing(words)}")
    if on_time:
        parts.append(
            f"{len(on_time):,} recovered in time: "
            f"{_listing({d: f'after {_seconds(s)}' for d, s in on_time.items()})}"
        )
    named, more = _named(sorted(why_not) + sorted(late))
    return ExpectationResult(name, False, "; ".join(parts) + more, named, slowest, within_s)


def _held_up_by(steps: Sequence[tuple[str, str, str | None]]) -> str:
    for step, state, reason in steps:
        if state != "done":
            return f"{step} {state}" + (f": {reason}" if reason else "")
    return "no step reported"


def check_activation_within(observed: RunObservation, within_s: float) -> ExpectationResult:
    """Every device of the run completed its setup checklist at most ``within_s``
    device seconds after the run began."""
    name = f"activation within {_seconds(within_s)}"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    if observed.started_s is None:
        return ExpectationResult(name, False, "not judged: the run's start time is unknown")
    devices = observed.fleet.devices
    taken: dict[str, float] = {}
    not_yet: dict[str, str] = {}
    for device in devices:
        setup = observed.cloud.setups.get(device)
        if setup is None:
            not_yet[device] = "the cloud has no setup for it"
        elif not setup.activated or setup.activated_at_s is None:
            not_yet[device] = f"held up by {_held_up_by(setup.steps)}"
        else:
            taken[device] = max(0.0, setup.activated_at_s - observed.started_s)
    late = {d: s for d, s in taken.items() if s > within_s}
    slowest = max(taken.values(), default=None)
    every = "the one device" if len(devices) == 1 else f"all {len(devices):,} devices"
    if not not_yet and not late:
        worst = max(taken, key=lambda d: taken[d])
        detail = (
            f"{every} activated within {_seconds(within_s)} of the start (after "
            f"{_seconds(taken[worst])} at the slowest, on {worst})"
        )
        return ExpectationResult(name, True, detail, (), slowest, within_s)
    parts = []
    if not_yet:
        parts.append(
            f"{len(not_yet):,} of {_count(len(devices), 'device')} not activated: "
            f"{_listing(not_yet)}"
        )
    if late:
        words = {d: f"after {_seconds(s)}, {_seconds(s - within_s)} late" for d, s in late.items()}
        parts.append(f"{_count(len(late), 'device')} activated too late: {_listing(words)}")
    named, more = _named(sorted(not_yet) + sorted(late))
    return ExpectationResult(name, False, "; ".join(parts) + more, named, slowest, within_s)


WARNING_KINDS = frozenset({"wear_out", "incident_escalated"})
"""Outreach that warns of a failing part: a wear forecast, or a fault self-healing could
not clear. A setup reminder or a feedback question does not announce a failure."""


def check_outreach_before_failure(observed: RunObservation) -> ExpectationResult:
    """Every device whose worn part failed during the run had an outreach item that
    warns of it (:data:`WARNING_KINDS`) created before the failure; the measure is how
    many failed unannounced (limit 0), the words give each lead time."""
    name = "outreach_before_failure"
    unjudged = _unjudged(name, observed)
    if unjudged is not None:
        return unjudged
    assert observed.cloud is not None
    failed = observed.failures
    if not failed:
        detail = (
            "no device's part failed during the run, so no outreach was due: the run "
            "did not test outreach (lengthen it or shorten the time to failure)"
        )
        return ExpectationResult(name, True, detail, (), 0, 0)
    items = observed.cloud.outreach or ()
    leads: dict[str, float] = {}
    for device, at in failed.items():
        before = [
            o.created_at_s
            for o in items
            if o.device_id == device and o.created_at_s < at and o.kind in WARNING_KINDS
        ]
        if before:
            leads[device] = at - min(before)
    unannounced = [d for d in failed if d not in leads]
    words = {d: f"{_seconds(s)} ahead" for d, s in sorted(leads.items(), key=lambda x: x[1])}
    parts = [f"lead time {_listing(words)}"] if leads else []
    if not unannounced:
        each = "the device" if len(failed) == 1 else f"each of the {len(failed):,} devices"
        detail = f"an outreach came before the failure on {each} whose part failed: {parts[0]}"
        return ExpectationResult(name, True, detail, (), 0, 0)
    named, more = _named(unannounced)
    detail = (
        f"{len(unannounced):,} of {_count(len(failed), 'device')} whose part failed had no "
        f"outreach before the failure: {_names(unannounced)}{more}"
    )
    if leads:
        detail += f"; the others had one, {parts[0]}"
    return ExpectationResult(name, False, detail, named, len(unannounced), 0)
