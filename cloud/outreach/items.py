"""What the outreach planner hands to delivery: an item for one device's owner (and the
service team), with the reason in plain words, the evidence behind it, what to do about
it, how urgent it is and, for a predicted failure, how much time is left.

Pure data shared by the planner (which makes drafts), the store (which keeps them,
one open item per ``dedupe_key``) and delivery (which decides when and where an owner
hears of it). Times are float seconds since the Unix epoch, as everywhere in the cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "RESPONSES",
    "ItemKind",
    "OutreachDraft",
    "Response",
    "ServiceSlot",
    "Urgency",
]

ItemKind = Literal[
    "wear_out",
    "incident_escalated",
    "setup_stuck",
    "support_update",
    "feedback_question",
]
"""Why an owner is contacted: a part predicted to fail, a fault self-healing could not
clear, a setup that stalled, news on a support request, or one question after a fix."""

Urgency = Literal["low", "normal", "high", "critical"]
"""``critical`` is safety-critical: the only urgency delivered outside the owner's
contact window and beyond the frequency cap."""

Response = Literal["book", "reschedule", "decline", "snooze", "rate"]
RESPONSES: tuple[Response, ...] = ("book", "reschedule", "decline", "snooze", "rate")
"""What an owner can answer: book a suggested slot, ask for another, say no, be asked
again later, or (for a feedback question) rate 1-5."""


@dataclass(frozen=True)
class ServiceSlot:
    """A visit window a technician could come in, ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class OutreachDraft:
    """An outreach item before it is stored.

    ``dedupe_key`` names the device and the reason (``"{device}:{kind}:{subject}"``):
    while an item with the same key is open, a new draft with it is not stored again.
    ``lead_time_s`` is how long before the predicted failure the item was made (None
    when nothing is predicted to fail).
    """

    device_id: str
    owner_id: str | None
    kind: ItemKind
    dedupe_key: str
    reason: str
    action: str
    urgency: Urgency
    created_at: float
    evidence: Mapping[str, object] = field(default_factory=dict)
    predicted_failure_at: float | None = None
    lead_time_s: float | None = None
    slots: tuple[ServiceSlot, ...] = ()
    incident_id: int | None = None
    support_request_id: int | None = None

    @property
    def safety_critical(self) -> bool:
        return self.urgency == "critical"
