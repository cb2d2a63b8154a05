"""Support requests' rules, pure: categories, SLA clocks, escalation, and what to do
next about a request's diagnostics. No I/O; times are clock seconds.

A request's clocks start when it is filed: the owner has been waiting since then,
whether or not the device answered at once. Escalation is sticky and cumulative: a
request escalates once per reason (first response overdue, resolution overdue), and
stays escalated until it is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CATEGORIES",
    "FIRST_RESPONSE_OVERDUE",
    "RESOLUTION_OVERDUE",
    "Category",
    "CollectStep",
    "SlaClock",
    "SlaPolicy",
    "Status",
    "new_escalations",
    "next_collect_step",
    "overdue",
]

Category = Literal["not_working", "performance", "noise", "setup", "connectivity", "other"]
CATEGORIES: tuple[Category, ...] = (
    "not_working",
    "performance",
    "noise",
    "setup",
    "connectivity",
    "other",
)
Status = Literal["collecting", "open", "answered", "escalated", "resolved"]
"""``collecting``: waiting for diagnostics, not yet in the service queue; ``open``: in
the queue; ``answered``: the service team replied; ``escalated``: an SLA was missed;
``resolved``: closed with a resolution."""

FIRST_RESPONSE_OVERDUE = "first response overdue"
RESOLUTION_OVERDUE = "resolution overdue"


@dataclass(frozen=True)
class SlaPolicy:
    """How long the service team has for a first response and for a resolution, by
    default and per category (``category -> (first_response_s, resolution_s)``)."""

    first_response_s: float
    resolution_s: float
    by_category: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, (first, resolution) in {
            "default": (self.first_response_s, self.resolution_s),
            **self.by_category,
        }.items():
            if not 0 < first <= resolution:
                raise ValueError(
                    f"SLA for {name}: need 0 < first_response_s ({first}) <= "
                    f"resolution_s ({resolution})"
                )
        unknown = set(self.by_category) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"SLA for unknown categories {sorted(unknown)}; known: {CATEGORIES}")

    def due(self, category: str, filed_at: float) -> tuple[float, float]:
        """(first response due, resolution due) of a request filed at ``filed_at``."""
        first, resolution = self.by_category.get(
            category, (self.first_response_s, self.resolution_s)
        )
        return filed_at + first, filed_at + resolution


@dataclass(frozen=True)
class SlaClock:
    """What the SLA rules read of a request."""

    status: str
    first_response_due: float
    resolution_due: float
    first_response_at: float | None
    resolved_at: float | None
    escalation: str | None = None


def overdue(clock: SlaClock, now: float) -> tuple[bool, bool]:
    """(first response overdue, resolution overdue) at ``now``: late if it came after
    its due time, or has not come and the due time has passed."""
    first = clock.first_response_at
    done = clock.resolved_at
    first_late = (first if first is not None else now) > clock.first_response_due
    resolution_late = (done if done is not None else now) > clock.resolution_due
    return first_late, resolution_late


def new_escalations(clock: SlaClock, now: float) -> list[str]:
    """The reasons a request escalates now that it has not escalated for yet. Requests
    still collecting diagnostics (not yet in the queue) and resolved ones never do."""
    if clock.status in ("collecting", "resolved"):
        return []
    first_late, resolution_late = overdue(clock, now)
    already = clock.escalation or ""
    reasons = []
    if first_late and clock.first_response_at is None and FIRST_RESPONSE_OVERDUE not in already:
        reasons.append(FIRST_RESPONSE_OVERDUE)
    if resolution_late and RESOLUTION_OVERDUE not in already:
        reasons.append(RESOLUTION_OVERDUE)
    return reasons


CollectAction = Literal["send", "wait", "attach", "fallback"]


@dataclass(frozen=True)
class CollectStep:
    """What to do about a collecting request's diagnostics; ``note`` says why a
    fallback summary replaces the device's bundle."""

    action: CollectAction
    note: str = ""


def next_collect_step(
    *,
    now: float,
    sent_at: float | None,
    online: bool,
    bundle_arrived: bool,
    result: tuple[str, str] | None,
    timeout_s: float,
) -> CollectStep:
    """The next step for a request waiting for its device's bundle: ask (a signed
    command), wait, attach the bundle that arrived, or fall back to the cloud's own
    summary when the device is offline, refused or failed, or stayed silent for
    ``timeout_s``. ``result`` is the command's (state, detail) once reported."""
    if bundle_arrived:
        return CollectStep("attach")
    if sent_at is None:
        if not online:
            return CollectStep("fallback", "the device was offline when the request was filed")
        return CollectStep("send")
    if result is not None and result[0] != "done":
        state, detail = result
        return CollectStep(
            "fallback", f"the device could not collect diagnostics ({state}: {detail})"[:500]
        )
    if now - sent_at >= timeout_s:
        return CollectStep(
            "fallback", f"the device did not send diagnostics within {timeout_s:g} s"
        )
    return CollectStep("wait")
