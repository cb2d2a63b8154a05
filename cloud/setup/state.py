"""Where a device's setup stands, computed from what the device reported and what its
owner ticked: no second source of truth for the device's checks.

The device reports a ``setup.self_check`` event per run of its self-checks (first boot,
every reset): ``detail`` maps each check's name to ``"ok"`` or ``"failed: <reason>"``
(plus ``trigger``, why it ran). A check's latest result counts; a device step is done
when every check it names passed last time, failed when one failed last time, pending
until each has reported. An owner step is done once its owner ticked it. Pure: plain
data in, a :class:`SetupState` out, time passed in as ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from cloud.setup.checklist import Checklist, Step

__all__ = [
    "FACTS_EVENT",
    "SELF_CHECK_EVENT",
    "CheckResult",
    "SetupEvent",
    "SetupState",
    "StepState",
    "check_results",
    "setup_state",
]

SELF_CHECK_EVENT = "setup.self_check"
FACTS_EVENT = "setup.facts"
SETUP_EVENTS = (SELF_CHECK_EVENT, FACTS_EVENT)
STALLED = "stalled"

StateName = Literal["done", "pending", "failed", "needs_owner"]


@dataclass(frozen=True)
class SetupEvent:
    """A stored device event (table ``events``) that setup reads."""

    kind: str
    ts: float
    detail: Mapping[str, object]


@dataclass(frozen=True)
class CheckResult:
    """A self-check's latest outcome, and since when it has had that outcome."""

    ok: bool
    reason: str
    since: float
    at: float


def parse_outcome(value: object) -> tuple[bool, str] | None:
    """``"ok"`` → passed, ``"failed"`` or ``"failed: why"`` → failed, anything else is
    not a check's outcome (``trigger``, a newer agent's extra key) and is ignored."""
    if not isinstance(value, str):
        return None
    if value == "ok":
        return True, ""
    if value == "failed" or value.startswith("failed:"):
        return False, value.removeprefix("failed").removeprefix(":").strip() or "failed"
    return None


def check_results(events: Iterable[SetupEvent]) -> dict[str, CheckResult]:
    """Each self-check's latest result over the device's self-check events (any order)."""
    results: dict[str, CheckResult] = {}
    runs = sorted((e for e in events if e.kind == SELF_CHECK_EVENT), key=lambda e: e.ts)
    for event in runs:
        for check, value in event.detail.items():
            outcome = parse_outcome(value)
            if outcome is None:
                continue
            ok, reason = outcome
            previous = results.get(check)
            same = previous is not None and previous.ok == ok
            since = previous.since if same and previous is not None else event.ts
            results[check] = CheckResult(ok, reason, since, event.ts)
    return results


@dataclass(frozen=True)
class StepState:
    step: Step
    state: StateName
    reason: str | None = None
    """Why it is failed (``check: reason``) or ``stalled``; None when on track."""
    help: str | None = None
    done_at: float | None = None
    needs_support: bool = False
    """Failing or stalled past the step's ``support_after_s``: the service team should
    reach out."""


@dataclass(frozen=True)
class SetupState:
    steps: tuple[StepState, ...]
    activated_at: float | None
    failing_checks: Mapping[str, str]
    """Self-checks whose latest run failed, with the device's reason."""

    @property
    def activated(self) -> bool:
        return all(s.state == "done" for s in self.steps)

    def support_needed(self) -> list[tuple[str, str]]:
        """(step id, reason) of every step the service team should reach out about."""
        return [(s.step.id, s.reason or STALLED) for s in self.steps if s.needs_support]


def setup_state(
    checklist: Checklist,
    events: Iterable[SetupEvent],
    owner_completions: Mapping[str, float],
    claimed_at: float | None,
    now: float,
) -> SetupState:
    """The device's setup against ``checklist`` at ``now``.

    Progress is timed from the claim: a step not done ``stall_after_s`` after the claim
    or the last step done (whichever is later) is stalled and shows its help; failing
    or stalled for ``support_after_s`` it needs support. An unclaimed device stalls
    never (nobody waits on it yet) and needs no support (there is nobody to reach)."""
    results = check_results(events)
    done_at: dict[str, float] = {}
    for step in checklist.steps:
        at = _done_at(step, results, owner_completions)
        if at is not None:
            done_at[step.id] = at
    progress = None if claimed_at is None else max([claimed_at, *done_at.values()])
    states = tuple(
        _step_state(step, results, done_at.get(step.id), progress, claimed_at, now)
        for step in checklist.steps
    )
    activated = all(s.state == "done" for s in states)
    failing = {name: r.reason for name, r in results.items() if not r.ok}
    return SetupState(states, max(done_at.values()) if activated else None, failing)


def _done_at(
    step: Step, results: Mapping[str, CheckResult], owner_completions: Mapping[str, float]
) -> float | None:
    if step.verified_by == "owner":
        return owner_completions.get(step.id)
    latest = [results.get(check) for check in step.checks]
    if all(r is not None and r.ok for r in latest):
        return max(r.since for r in latest if r is not None)
    return None


def _step_state(
    step: Step,
    results: Mapping[str, CheckResult],
    done_at: float | None,
    progress: float | None,
    claimed_at: float | None,
    now: float,
) -> StepState:
    if done_at is not None:
        return StepState(step, "done", done_at=done_at)
    failed = [(c, results[c]) for c in step.checks if c in results and not results[c].ok]
    if failed:
        check, result = min(failed, key=lambda item: item[1].since)
        support = claimed_at is not None and now - max(result.since, claimed_at) >= (
            step.support_after_s
        )
        reason = f"{check}: {result.reason}"
        return StepState(step, "failed", reason, step.help_for(check), needs_support=support)
    waiting: StateName = "needs_owner" if step.verified_by == "owner" else "pending"
    idle_s = None if progress is None else now - progress
    if idle_s is None or idle_s < step.stall_after_s:
        return StepState(step, waiting)
    support = idle_s >= step.support_after_s
    return StepState(step, waiting, STALLED, step.help_for(STALLED), needs_support=support)
