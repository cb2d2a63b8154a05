"""Outreach items, answers, outcomes and owners' contact preferences as the API takes
and returns them; times are ISO 8601 (with an offset) at this edge only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cloud.api.schemas.common import to_datetime
from cloud.db.deliveries import DeliveryRow
from cloud.db.outreach import OutreachItem, StoredPreferences
from cloud.outreach.items import ItemKind, Response, ServiceSlot, Urgency
from cloud.outreach.preferences import Channel, OwnerPreferences
from cloud.outreach.responses import Answer, ItemStatus

OUTCOMES = ("fixed", "part_replaced", "not_fixed", "no_access", "cancelled")
Outcome = Literal["fixed", "part_replaced", "not_fixed", "no_access", "cancelled"]

NEEDS: dict[str, tuple[str, ...]] = {
    "book": ("slot_start",),
    "reschedule": (),
    "decline": (),
    "snooze": ("until",),
    "rate": ("rating",),
}
ALLOWED: dict[str, frozenset[str]] = {
    "book": frozenset({"slot_start"}),
    "reschedule": frozenset({"slot_start"}),
    "decline": frozenset(),
    "snooze": frozenset({"until"}),
    "rate": frozenset({"rating"}),
}
"""Beside ``text`` and ``channel``, which every answer may carry."""


class SlotOut(BaseModel):
    start: datetime
    end: datetime

    @classmethod
    def of(cls, slot: ServiceSlot) -> SlotOut:
        return cls(start=to_datetime(slot.start_s), end=to_datetime(slot.end_s))


class DeliveryOut(BaseModel):
    id: str
    channel: Channel
    state: str
    due_at: datetime
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: DeliveryRow) -> DeliveryOut:
        return cls(
            id=row.id,
            channel=row.channel,
            state=row.state,
            due_at=to_datetime(row.due_at),
            attempts=row.attempts,
            next_attempt_at=to_datetime(row.next_attempt_at),
            sent_at=to_datetime(row.sent_at) if row.sent_at is not None else None,
            last_error=row.last_error,
        )


def _when(ts: float | None) -> datetime | None:
    return to_datetime(ts) if ts is not None else None


class OutreachOut(BaseModel):
    id: int
    device_id: str
    owner_id: str | None
    kind: ItemKind
    reason: str
    action: str
    urgency: Urgency
    evidence: dict[str, object]
    predicted_failure_at: datetime | None
    lead_time_s: float | None
    slots: list[SlotOut]
    status: ItemStatus
    note: str
    created_at: datetime
    delivered_at: datetime | None
    closed_at: datetime | None
    booked: SlotOut | None
    deliveries: list[DeliveryOut] | None = None
    """Where each send stands (service team only)."""

    @classmethod
    def of(cls, item: OutreachItem, deliveries: list[DeliveryRow] | None = None) -> OutreachOut:
        return cls(
            id=item.id,
            device_id=item.device_id,
            owner_id=item.owner_id,
            kind=item.kind,
            reason=item.reason,
            action=item.action,
            urgency=item.urgency,
            evidence=dict(item.evidence),
            predicted_failure_at=_when(item.predicted_failure_at),
            lead_time_s=item.lead_time_s,
            slots=[SlotOut.of(s) for s in item.slots],
            status=item.status,
            note=item.note,
            created_at=to_datetime(item.created_at),
            delivered_at=_when(item.delivered_at),
            closed_at=_when(item.closed_at),
            booked=SlotOut.of(item.booked) if item.booked else None,
            deliveries=[DeliveryOut.of(d) for d in deliveries] if deliveries is not None else None,
        )


class ResponseIn(BaseModel):
    """An owner's answer: ``book`` a suggested ``slot_start``, ``reschedule`` (an
    optional wished-for ``slot_start``), ``decline``, ``snooze`` ``until`` a time, or
    ``rate`` a feedback question 1-5; ``text`` optional with any; ``channel`` names the
    channel the owner answers from, when a gateway knows it."""

    model_config = ConfigDict(extra="forbid")

    response: Response
    slot_start: AwareDatetime | None = None
    until: AwareDatetime | None = None
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str | None = Field(default=None, max_length=2000)
    channel: Channel | None = None

    @model_validator(mode="after")
    def _fields_fit(self) -> ResponseIn:
        given = {f for f in ("slot_start", "until", "rating") if getattr(self, f) is not None}
        missing = [f for f in NEEDS[self.response] if f not in given]
        if missing:
            raise ValueError(f"{self.response!r} needs {', '.join(missing)}")
        extra = sorted(given - ALLOWED[self.response])
        if extra:
            raise ValueError(f"{self.response!r} takes no {', '.join(extra)}")
        return self

    def answer(self, now: float) -> Answer:
        slot = None
        if self.slot_start is not None:
            start = self.slot_start.timestamp()
            slot = ServiceSlot(start, start)
        return Answer(
            response=self.response,
            at=now,
            slot=slot,
            until=self.until.timestamp() if self.until is not None else None,
            rating=self.rating,
            text=self.text,
            channel=self.channel,
        )


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: str = Field(default="", max_length=4000)


class PreferencesOut(BaseModel):
    preferences: OwnerPreferences
    is_default: bool
    """True until the owner sets their own (these are the defaults)."""
    webhook_secret: str | None = None
    """Returned once, when a webhook URL is set or changed: the key its deliveries are
    signed with (``X-Aftercare-Signature``). Keep it; it is not shown again."""

    @classmethod
    def of(cls, stored: StoredPreferences, new_secret: str | None = None) -> PreferencesOut:
        return cls(
            preferences=stored.preferences, is_default=stored.is_default, webhook_secret=new_secret
        )
