"""A device's health as a short story for its owner: one state, one headline, what to do
(if anything) and what happened lately, each event with its time.

Pure: it reads plain facts (the device's model and whether it is in touch, its recent
incidents with their fix attempts and whether the telemetry verified them, its outreach
items and any setup step that failed) and returns words. Which state wins, most
pressing first:

``needs_service``
    a service visit is on the table (an open item offering one, or a fault self-healing
    handed to people);
``needs_you``
    the owner can put it right (a setup step failed, the device is out of touch);
``fixing``
    a fault is open and self-healing is on it;
``ok``
    nothing open; a fault fixed lately is told as good news.

Times stay numbers (Unix seconds): where a headline mentions one it holds ``{day}``,
and ``headline_at`` is the time the page puts there in the reader's words ("on
Tuesday"). Event texts carry no time at all; the page shows each one's ``at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cloud.plain.names import Problem, action_words, device_name, problem_of

__all__ = [
    "DAY",
    "DeviceFacts",
    "FixFacts",
    "HealthState",
    "HealthStory",
    "IncidentFacts",
    "OutreachFacts",
    "SetupProblem",
    "StoryEvent",
    "health_story",
]

HealthState = Literal["ok", "fixing", "needs_you", "needs_service"]
DAY = "{day}"
"""Where a headline names a day: the page replaces it with ``headline_at`` in words."""

ACTIVE_INCIDENT = frozenset({"open", "mitigating"})
CLOSED_ITEM = frozenset({"declined", "answered", "done", "expired"})
VISIT_KINDS = frozenset({"incident_escalated", "wear_out"})
DEVICE_GAVE_UP = {
    "failed": "It could not carry out the fix.",
    "refused": "It refused the fix.",
    "timed_out": "It did not answer in time.",
}


@dataclass(frozen=True)
class FixFacts:
    """One fix sent for an incident: the device's word and the telemetry's verdict
    (``verified`` None while it is still being judged)."""

    action: str
    sent_at: float
    result_state: str | None = None
    result_at: float | None = None
    verified: bool | None = None


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    signature: str
    status: str
    """open, mitigating, resolved or escalated."""
    opened_at: float
    updated_at: float
    resolved_at: float | None = None
    fixes: tuple[FixFacts, ...] = ()
    false_positive: bool = False
    """The service team found nothing wrong: not a story for the owner."""


@dataclass(frozen=True)
class OutreachFacts:
    """An item delivered to the owner (undelivered ones are not theirs to see yet)."""

    id: int
    kind: str
    """wear_out, incident_escalated, setup_stuck, support_update or feedback_question."""
    status: str
    created_at: float
    updated_at: float
    has_slots: bool = False
    booked_start: float | None = None
    incident_id: int | None = None


@dataclass(frozen=True)
class SetupProblem:
    """A setup step that failed, with the checklist's help for it."""

    title: str
    help: str | None = None


@dataclass(frozen=True)
class DeviceFacts:
    model: str | None
    online: bool | None
    """None: the device has never reported (claimed, still in its box)."""
    last_seen: float | None = None
    incidents: Sequence[IncidentFacts] = ()
    outreach: Sequence[OutreachFacts] = ()
    setup_problems: Sequence[SetupProblem] = ()


@dataclass(frozen=True)
class StoryEvent:
    at: float
    text: str


@dataclass(frozen=True)
class HealthStory:
    state: HealthState
    name: str
    """The device as the owner calls it: ``heat pump``."""
    headline: str
    headline_at: float | None = None
    """The time ``{day}`` in the headline stands for (None when it names none)."""
    advice: str | None = None
    """What the owner can do, when there is something."""
    visit_at: float | None = None
    """The start of a booked service visit."""
    events: tuple[StoryEvent, ...] = field(default_factory=tuple)
    """Newest first."""


def health_story(
    facts: DeviceFacts,
    now: float,
    *,
    recent_s: float = 7 * 86_400.0,
    max_events: int = 8,
) -> HealthStory:
    """The owner's story of one device at ``now``: good news is told for faults resolved
    within ``recent_s``; at most ``max_events`` events, newest first."""
    name = device_name(facts.model)
    incidents = [i for i in facts.incidents if not i.false_positive]
    events = tuple(_newest(_events(incidents, facts.outreach), max_events))
    story = (
        _needs_service(name, incidents, facts.outreach)
        or _needs_you(name, facts)
        or _fixing(name, incidents)
        or _ok(name, incidents, now, recent_s)
    )
    return HealthStory(
        state=story.state,
        name=name,
        headline=story.headline,
        headline_at=story.headline_at,
        advice=story.advice,
        visit_at=story.visit_at,
        events=events,
    )


def _your(name: str) -> str:
    return f"Your {name}"


def _needs_service(
    name: str, incidents: list[IncidentFacts], outreach: Sequence[OutreachFacts]
) -> HealthStory | None:
    by_id = {i.id: i for i in incidents}
    offers = [o for o in outreach if o.kind in VISIT_KINDS and o.status not in CLOSED_ITEM]
    if offers:
        offer = max(offers, key=lambda o: o.created_at)
        incident = by_id.get(offer.incident_id) if offer.incident_id is not None else None
        if offer.kind == "wear_out":
            why = "a part is wearing out"
        elif incident is not None:
            why = f"it {problem_of(incident.signature).ongoing} and remote fixes did not help"
        else:
            why = "remote fixes did not help"
        return _visit_story(name, why, offer)
    escalated = [i for i in incidents if i.status == "escalated"]
    if not escalated:
        return _declined_wear(name, outreach)
    incident = max(escalated, key=lambda i: i.updated_at)
    problem = problem_of(incident.signature)
    declined = any(o.incident_id == incident.id and o.status == "declined" for o in outreach)
    then = (
        "you declined a visit; write to us if you change your mind"
        if declined
        else "our service team will be in touch"
    )
    return HealthStory(
        state="needs_service",
        name=name,
        headline=f"{_your(name)} {problem.ongoing}; remote fixes did not help and {then}.",
        advice=None if declined else "We will suggest times for a service visit in your messages.",
    )


def _declined_wear(name: str, outreach: Sequence[OutreachFacts]) -> HealthStory | None:
    """A part wearing out does not heal because its owner said no to a visit."""
    if not any(o.kind == "wear_out" and o.status == "declined" for o in outreach):
        return None
    return HealthStory(
        state="needs_service",
        name=name,
        headline=f"{_your(name)} has a part wearing out and you declined a visit; "
        "write to us if you change your mind.",
    )


def _visit_story(name: str, why: str, offer: OutreachFacts) -> HealthStory:
    head = f"{_your(name)} needs a service visit: {why}."
    if offer.status == "booked" and offer.booked_start is not None:
        return HealthStory(
            state="needs_service",
            name=name,
            headline=f"{head} Your visit is booked.",
            visit_at=offer.booked_start,
        )
    if offer.status == "rescheduled":
        return HealthStory(
            state="needs_service",
            name=name,
            headline=f"{head} We are finding another time for the visit.",
        )
    if offer.has_slots:
        return HealthStory(
            state="needs_service",
            name=name,
            headline=f"{head} We have asked you to pick a time.",
            advice="Open your messages to pick a time that suits you.",
        )
    return HealthStory(
        state="needs_service",
        name=name,
        headline=f"{head} Our service team will be in touch.",
    )


def _needs_you(name: str, facts: DeviceFacts) -> HealthStory | None:
    if facts.setup_problems:
        problem = facts.setup_problems[0]
        return HealthStory(
            state="needs_you",
            name=name,
            headline=f"{_your(name)} needs you: the setup check “{problem.title}” did not pass.",
            advice=problem.help,
        )
    if any(o.kind == "setup_stuck" and o.status not in CLOSED_ITEM for o in facts.outreach):
        return HealthStory(
            state="needs_you",
            name=name,
            headline=f"{_your(name)} needs you: its setup is not finished.",
            advice="Open its setup to see the step that is missing.",
        )
    if facts.online is None:
        return HealthStory(
            state="needs_you",
            name=name,
            headline=f"{_your(name)} has not been in touch yet.",
            advice="Plug it in and connect it to your Wi-Fi; it checks itself when it starts.",
        )
    if not facts.online:
        return HealthStory(
            state="needs_you",
            name=name,
            headline=f"{_your(name)} has not been in touch since {DAY}.",
            headline_at=facts.last_seen,
            advice="Check that it has power and that your Wi-Fi is on.",
        )
    return None


def _fixing(name: str, incidents: list[IncidentFacts]) -> HealthStory | None:
    active = [i for i in incidents if i.status in ACTIVE_INCIDENT]
    if not active:
        return None
    incident = max(active, key=lambda i: i.opened_at)
    doing = "we are trying a fix" if incident.fixes else "we are looking into it"
    more = len(active) - 1
    also = f" ({more} more {'issue' if more == 1 else 'issues'} too)" if more else ""
    return HealthStory(
        state="fixing",
        name=name,
        headline=f"{_your(name)} {problem_of(incident.signature).ongoing}; {doing}{also}.",
    )


def _ok(name: str, incidents: list[IncidentFacts], now: float, recent_s: float) -> HealthStory:
    recent = [
        i
        for i in incidents
        if i.status == "resolved" and i.resolved_at is not None and now - i.resolved_at <= recent_s
    ]
    if not recent:
        return HealthStory(state="ok", name=name, headline=f"{_your(name)} is working well.")
    incident = max(recent, key=lambda i: i.resolved_at or 0.0)
    noun = problem_of(incident.signature).noun
    if any(f.verified for f in incident.fixes):
        headline = f"{_your(name)} fixed {noun} by itself {DAY}; all good."
    else:
        headline = f"{_your(name)} had {noun} {DAY} that cleared up by itself; all good."
    return HealthStory(state="ok", name=name, headline=headline, headline_at=incident.resolved_at)


def _events(
    incidents: Iterable[IncidentFacts], outreach: Iterable[OutreachFacts]
) -> list[StoryEvent]:
    found: list[StoryEvent] = []
    for incident in incidents:
        found += _incident_events(incident, problem_of(incident.signature))
    for item in outreach:
        found += _item_events(item)
    return found


def _incident_events(incident: IncidentFacts, problem: Problem) -> list[StoryEvent]:
    found = [StoryEvent(incident.opened_at, f"We noticed {problem.noun}.")]
    for fix in incident.fixes:
        found.append(StoryEvent(fix.sent_at, f"We {action_words(fix.action)} remotely."))
        gave_up = DEVICE_GAVE_UP.get(fix.result_state or "")
        if gave_up and fix.result_at is not None:
            found.append(StoryEvent(fix.result_at, gave_up))
        elif fix.verified is False and fix.result_at is not None:
            found.append(StoryEvent(fix.result_at, "That did not help."))
    if incident.status == "resolved" and incident.resolved_at is not None:
        fixed = any(f.verified for f in incident.fixes)
        text = (
            "Fixed: it is working normally again."
            if fixed
            else "It cleared up by itself: working normally again."
        )
        found.append(StoryEvent(incident.resolved_at, text))
    elif incident.status == "escalated":
        found.append(
            StoryEvent(
                incident.updated_at,
                "Our remote fixes did not help, so we handed it to our service team.",
            )
        )
    return found


ITEM_SENT = {
    "wear_out": "We told you a part is wearing out.",
    "incident_escalated": "We told you it needs a service visit.",
    "setup_stuck": "We asked you to check its setup.",
    "support_update": "Our service team has news on your support request.",
    "feedback_question": "We asked you how the fix went.",
}
ITEM_SENT_WITH_SLOTS = {
    "wear_out": "We told you a part is wearing out and asked you to pick a time for a visit.",
    "incident_escalated": "We offered you a service visit and asked you to pick a time.",
}
VISIT_ANSWERED = {
    "booked": "You booked a service visit.",
    "rescheduled": "You asked for another time for the visit.",
    "declined": "You said no to the visit.",
    "snoozed": "You asked us to remind you later.",
    "done": "The service visit is done.",
}
OTHER_ANSWERED = {
    "declined": "You dismissed the message.",
    "snoozed": "You asked us to remind you later.",
    "answered": "You told us how it went. Thank you!",
}


def _item_events(item: OutreachFacts) -> list[StoryEvent]:
    sent = ITEM_SENT.get(item.kind, "We sent you a message.")
    if item.has_slots:
        sent = ITEM_SENT_WITH_SLOTS.get(item.kind, sent)
    found = [StoryEvent(item.created_at, sent)]
    answers = VISIT_ANSWERED if item.kind in VISIT_KINDS else OTHER_ANSWERED
    answered = answers.get(item.status)
    if answered:
        found.append(StoryEvent(item.updated_at, answered))
    return found


def _newest(events: list[StoryEvent], limit: int) -> list[StoryEvent]:
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]
