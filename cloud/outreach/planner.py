"""The outreach planner: what the cloud knows (a part predicted to fail, a fault
self-healing handed over, a setup that stalled, a support request that moved, a fix or
visit worth asking about) in, outreach drafts out.

Pure and clock-free: every input carries its own time and the caller passes ``now``.
Whether an owner hears of a draft, and when, is delivery's business (the owner's
windows, quiet hours and caps); the planner decides *whether* there is something to say,
how urgent it is and what to offer. Every draft carries a ``dedupe_key`` naming the device
and the reason, so planning the same facts again never makes a second item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from cloud.outreach.items import OutreachDraft, ServiceSlot, Urgency
from cloud.plain.names import action_words

__all__ = [
    "EscalatedIncident",
    "FailureForecast",
    "FeedbackTrigger",
    "OutreachPolicy",
    "StuckSetup",
    "SupportUpdate",
    "WearConfirmation",
    "plan",
    "service_slots",
]

DAY_S = 86_400.0
AT_HORIZON = 0.9
"""A median this close to the model's horizon is "nothing within it", not a prediction."""


@dataclass(frozen=True)
class FailureForecast:
    """A remaining-life prediction for one part of one device, in seconds from ``at``:
    ``low_s``/``high_s`` bound the interval the model calibrated to ``coverage``."""

    device_id: str
    owner_id: str | None
    component: str
    signature: str
    at: float
    median_s: float
    low_s: float
    high_s: float
    coverage: float
    safety_critical: bool = False
    """The part failing is a hazard (an overheating connector), not only an outage."""
    evidence: Mapping[str, object] = field(default_factory=dict)
    horizon_s: float | None = None
    """The longest remaining life the model tells apart (its cap): a median near it says
    only that no wear shows within it, whatever the interval's low end says."""


@dataclass(frozen=True)
class EscalatedIncident:
    """An incident self-healing could not clear; ``attempts`` are the fixes tried."""

    incident_id: int
    device_id: str
    owner_id: str | None
    signature: str
    summary: str
    reason: str
    escalated_at: float
    attempts: Sequence[str] = ()


@dataclass(frozen=True)
class StuckSetup:
    """A setup step that failed or stalled (a support item from guided setup)."""

    device_id: str
    owner_id: str | None
    step: str
    reason: str
    opened_at: float


@dataclass(frozen=True)
class SupportUpdate:
    """Something the service team wrote on a support request: a reply or a resolution."""

    request_id: int
    device_id: str
    owner_id: str | None
    kind: Literal["reply", "resolved"]
    text: str
    at: float


@dataclass(frozen=True)
class FeedbackTrigger:
    """A remote fix verified in the telemetry, a service visit done, or a support
    request resolved: worth one question to the owner."""

    device_id: str
    owner_id: str | None
    kind: Literal["verified_fix", "service_visit", "support_resolved"]
    subject_id: int
    """The incident, outreach item or support request the question is about."""
    at: float
    incident_id: int | None = None
    support_request_id: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class OutreachPolicy:
    """How far ahead a predicted failure is raised, and what counts as likely.

    A part is raised once the model's pessimistic end (``low_s``) falls within
    ``lead_time_s`` plus the time it takes to arrange a visit, so owners hear of it at
    least ``lead_time_s`` before the failure the model considers possible, not only the
    one it considers typical."""

    lead_time_s: float = 7 * DAY_S
    arrange_s: float = 3 * DAY_S
    slots: int = 3
    slot_hours: tuple[tuple[int, int], ...] = ((8, 12), (13, 17))
    """Local visit windows a technician offers on working days."""
    earliest_visit_s: float = DAY_S
    feedback_delay_s: float = 3600.0
    """Ask about a fix only once it has had time to show it holds."""
    confirm_rounds: int = 2
    """Forecasting rounds in a row that must call for a wear-out before it is raised."""


def plan(
    now: float,
    *,
    forecasts: Iterable[FailureForecast] = (),
    escalations: Iterable[EscalatedIncident] = (),
    stuck: Iterable[StuckSetup] = (),
    support: Iterable[SupportUpdate] = (),
    feedback: Iterable[FeedbackTrigger] = (),
    time_zones: Mapping[str, str] | None = None,
    policy: OutreachPolicy | None = None,
) -> list[OutreachDraft]:
    """Drafts for everything worth telling owners about now; ``time_zones`` maps owner
    ids to IANA zones for suggested visit slots (UTC when unknown)."""
    policy = policy or OutreachPolicy()
    zones = time_zones or {}
    drafts: list[OutreachDraft] = []
    for forecast in forecasts:
        draft = _wear_out(now, forecast, policy, zones.get(forecast.owner_id or "", "UTC"))
        if draft is not None:
            drafts.append(draft)
    for incident in escalations:
        zone = zones.get(incident.owner_id or "", "UTC")
        drafts.append(_escalated(now, incident, policy, zone))
    drafts.extend(_stuck(now, item) for item in stuck)
    drafts.extend(_support(now, update) for update in support)
    drafts.extend(
        _question(now, trigger)
        for trigger in feedback
        if now - trigger.at >= policy.feedback_delay_s
    )
    return drafts


def wear_key(forecast: FailureForecast) -> str:
    """The dedupe key of a wear-out item: the device and the part's signature."""
    return f"{forecast.device_id}:wear_out:{forecast.signature}"


class WearConfirmation:
    """A wear-out is raised only when ``rounds`` forecasting rounds in a row call for it
    (a critical one at once): one noisy forecast of a sound part is no reason to call
    its owner, and a part that is wearing keeps looking worn. Costs one forecasting
    interval of lead time. Keeps a streak per device and part between rounds."""

    def __init__(self, rounds: int = 2) -> None:
        self.rounds = rounds
        self._streaks: dict[str, int] = {}

    def confirm(
        self, drafts: Iterable[OutreachDraft], forecasts: Iterable[FailureForecast]
    ) -> list[OutreachDraft]:
        """Of one round's drafts, the others and the wear-outs confirmed; ``forecasts``
        are the round's forecasts (a part forecast without a draft loses its streak)."""
        drafts = list(drafts)
        raised = {d.dedupe_key for d in drafts if d.kind == "wear_out"}
        for key in {wear_key(f) for f in forecasts}:
            self._streaks[key] = self._streaks.get(key, 0) + 1 if key in raised else 0
        return [
            d
            for d in drafts
            if d.kind != "wear_out"
            or d.urgency == "critical"
            or self._streaks.get(d.dedupe_key, 0) >= self.rounds
        ]


def service_slots(
    after: float, before: float | None, zone: str, policy: OutreachPolicy
) -> tuple[ServiceSlot, ...]:
    """The first ``policy.slots`` visit windows on working days in the owner's zone,
    starting ``earliest_visit_s`` after ``after`` and, where possible, ending before
    ``before`` (a predicted failure). When no window fits before it, the earliest ones
    are offered anyway: a late visit beats none."""
    tz = ZoneInfo(zone)
    start = dt.datetime.fromtimestamp(after + policy.earliest_visit_s, tz)
    slots: list[ServiceSlot] = []
    day = start.date()
    while len(slots) < policy.slots and (day - start.date()).days < 60:
        if day.weekday() < 5:
            for first_h, last_h in policy.slot_hours:
                begin = dt.datetime.combine(day, dt.time(first_h), tz).timestamp()
                end = dt.datetime.combine(day, dt.time(last_h), tz).timestamp()
                if begin >= start.timestamp() and len(slots) < policy.slots:
                    slots.append(ServiceSlot(begin, end))
        day += dt.timedelta(days=1)
    if before is not None:
        fitting = tuple(s for s in slots if s.end_s <= before)
        if fitting:
            return fitting
    return tuple(slots)


def _wear_out(
    now: float, forecast: FailureForecast, policy: OutreachPolicy, zone: str
) -> OutreachDraft | None:
    if forecast.low_s > policy.lead_time_s + policy.arrange_s:
        return None
    if forecast.horizon_s is not None and forecast.median_s >= AT_HORIZON * forecast.horizon_s:
        return None  # the model sees no wear within what it can tell apart
    failure_at = forecast.at + forecast.median_s
    earliest_at = forecast.at + forecast.low_s
    urgency: Urgency
    if forecast.safety_critical and forecast.low_s <= DAY_S:
        urgency = "critical"
    elif forecast.median_s <= policy.lead_time_s:
        urgency = "high"
    else:
        urgency = "normal"
    part = forecast.component.replace("_", " ")
    reason = (
        f"The {part} is wearing out. We expect it to fail in about "
        f"{_days(forecast.median_s)} (possibly in {_days(forecast.low_s)}, "
        f"{forecast.coverage:.0%} likely between {_days(forecast.low_s)} and "
        f"{_days(forecast.high_s)})."
    )
    return OutreachDraft(
        device_id=forecast.device_id,
        owner_id=forecast.owner_id,
        kind="wear_out",
        dedupe_key=wear_key(forecast),
        reason=reason,
        action=f"Book a technician to replace the {part} before it fails.",
        urgency=urgency,
        created_at=now,
        evidence={
            "signature": forecast.signature,
            "median_days": round(forecast.median_s / DAY_S, 2),
            "low_days": round(forecast.low_s / DAY_S, 2),
            "high_days": round(forecast.high_s / DAY_S, 2),
            "coverage": forecast.coverage,
            "predicted_at": forecast.at,
            **forecast.evidence,
        },
        predicted_failure_at=failure_at,
        lead_time_s=max(0.0, failure_at - now),
        slots=service_slots(now, earliest_at, zone, policy),
    )


def _escalated(
    now: float, incident: EscalatedIncident, policy: OutreachPolicy, zone: str
) -> OutreachDraft:
    tried = _in_words([action_words(a) for a in dict.fromkeys(incident.attempts)])
    remotely = (
        f"From afar we {tried}, but that did not clear it"
        if tried
        else "No fix we can send from afar applies to it"
    )
    return OutreachDraft(
        device_id=incident.device_id,
        owner_id=incident.owner_id,
        kind="incident_escalated",
        dedupe_key=f"{incident.device_id}:incident_escalated:{incident.incident_id}",
        reason=(f"{incident.summary} {remotely}, so a technician should look at it."),
        action="Book a service visit.",
        urgency="high",
        created_at=now,
        evidence={
            "signature": incident.signature,
            "escalation": incident.reason,
            "attempts": list(incident.attempts),
        },
        slots=service_slots(now, None, zone, policy),
        incident_id=incident.incident_id,
    )


def _stuck(now: float, item: StuckSetup) -> OutreachDraft:
    step = item.step.replace("_", " ")
    return OutreachDraft(
        device_id=item.device_id,
        owner_id=item.owner_id,
        kind="setup_stuck",
        dedupe_key=f"{item.device_id}:setup_stuck:{item.step}",
        reason=f"Setting up your device stopped at '{step}': {item.reason}",
        action="Open the setup guide in the app, or answer to have us call you.",
        urgency="normal",
        created_at=now,
        evidence={"step": item.step, "since": item.opened_at},
    )


def _support(now: float, update: SupportUpdate) -> OutreachDraft:
    resolved = update.kind == "resolved"
    return OutreachDraft(
        device_id=update.device_id,
        owner_id=update.owner_id,
        kind="support_update",
        dedupe_key=f"{update.device_id}:support_update:{update.request_id}:{update.kind}",
        reason=(
            f"Your support request #{update.request_id} was "
            f"{'resolved' if resolved else 'answered'}: {update.text}"
        ),
        action="Read the answer in the app." if not resolved else "Nothing to do.",
        urgency="normal",
        created_at=now,
        evidence={"request_id": update.request_id, "at": update.at},
        support_request_id=update.request_id,
    )


_ASKED_ABOUT = {
    "verified_fix": "We fixed a problem with your device remotely",
    "service_visit": "A technician serviced your device",
    "support_resolved": "We resolved your support request",
}


def _question(now: float, trigger: FeedbackTrigger) -> OutreachDraft:
    detail = f" ({trigger.detail})" if trigger.detail else ""
    return OutreachDraft(
        device_id=trigger.device_id,
        owner_id=trigger.owner_id,
        kind="feedback_question",
        dedupe_key=f"{trigger.device_id}:feedback_question:{trigger.kind}:{trigger.subject_id}",
        reason=f"{_ASKED_ABOUT[trigger.kind]}{detail}. Is it working as it should?",
        action="Rate it from 1 to 5; a word on what is still wrong helps us.",
        urgency="low",
        created_at=now,
        evidence={"about": trigger.kind, "subject_id": trigger.subject_id},
        incident_id=trigger.incident_id,
        support_request_id=trigger.support_request_id,
    )


def _days(seconds: float) -> str:
    days = seconds / DAY_S
    if days < 1:
        hours = max(1, round(seconds / 3600))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{round(days)} day{'s' if round(days) != 1 else ''}"


def _in_words(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
