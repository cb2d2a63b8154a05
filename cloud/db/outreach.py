"""Outreach items as stored: added from the planner's drafts (one open item per device
and reason), answered by owners, closed by the service team's outcome; and owners'
contact preferences. The delivery queue is :mod:`cloud.db.deliveries`.

Listeners (``on_response``, ``on_outcome``) are called after an answer or an outcome is
committed, on the caller's thread: the hook by which other parts react (a low rating
after a fix reopens its incident). A listener that raises is logged and counted; the
answer stays stored.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from cloud.db.schema import (
    outreach_deliveries,
    outreach_items,
    outreach_outcomes,
    outreach_responses,
    owner_preferences,
)
from cloud.db.schema import owners as owners_table
from cloud.outreach.items import ItemKind, OutreachDraft, ServiceSlot, Urgency
from cloud.outreach.preferences import OwnerPreferences, default_preferences
from cloud.outreach.responses import (
    CLOSED_STATUSES,
    Answer,
    ItemStatus,
    answer_status,
)
from device_agent.clock import Clock

log = logging.getLogger("aftercare.outreach")

SLOT_TOLERANCE_S = 1.0
"""A booked ``slot_start`` matches a suggested slot this close (ISO 8601 round trips)."""


@dataclass(frozen=True)
class OutreachItem:
    """A stored item: the draft's fields, and where it stands."""

    id: int
    device_id: str
    owner_id: str | None
    kind: ItemKind
    dedupe_key: str
    reason: str
    action: str
    urgency: Urgency
    evidence: Mapping[str, object]
    predicted_failure_at: float | None
    lead_time_s: float | None
    slots: tuple[ServiceSlot, ...]
    incident_id: int | None
    support_request_id: int | None
    created_at: float
    status: ItemStatus
    updated_at: float
    plan_after: float | None
    delivered_at: float | None
    closed_at: float | None
    booked: ServiceSlot | None
    note: str


@dataclass(frozen=True)
class StoredPreferences:
    """An owner's preferences; ``is_default`` when they never set any."""

    owner_id: str
    preferences: OwnerPreferences
    is_default: bool
    webhook_secret: str | None


@dataclass(frozen=True)
class Outcome:
    item_id: int
    outcome: str
    note: str
    at: float


ResponseListener = Callable[[OutreachItem, Answer], None]
OutcomeListener = Callable[[OutreachItem, Outcome], None]


class ItemNotFound(LookupError):
    """No outreach item with that id."""


def item_from(row: Row[Any]) -> OutreachItem:
    booked = None
    if row.booked_start is not None and row.booked_end is not None:
        booked = ServiceSlot(row.booked_start, row.booked_end)
    return OutreachItem(
        id=row.id,
        device_id=row.device_id,
        owner_id=row.owner_id,
        kind=row.kind,
        dedupe_key=row.dedupe_key,
        reason=row.reason,
        action=row.action,
        urgency=row.urgency,
        evidence=row.evidence,
        predicted_failure_at=row.predicted_failure_at,
        lead_time_s=row.lead_time_s,
        slots=tuple(ServiceSlot(s[0], s[1]) for s in row.slots),
        incident_id=row.incident_id,
        support_request_id=row.support_request_id,
        created_at=row.created_at,
        status=row.status,
        updated_at=row.updated_at,
        plan_after=row.plan_after,
        delivered_at=row.delivered_at,
        closed_at=row.closed_at,
        booked=booked,
        note=row.note,
    )


class OutreachStore:
    """Thread-safe (SQLAlchemy engine, one transaction per call).

    ``dedupe_window_s``: after an item is closed, a draft with the same ``dedupe_key``
    is still dropped for this long (the owner said no to it; the planner would otherwise
    ask again on its next run). Safety-critical drafts are only held back by an open item.
    """

    def __init__(self, engine: Engine, clock: Clock, *, dedupe_window_s: float = 0.0) -> None:
        self.engine = engine
        self.clock = clock
        self.dedupe_window_s = dedupe_window_s
        self.response_listeners: list[ResponseListener] = []
        self.outcome_listeners: list[OutcomeListener] = []
        self.listener_errors = 0

    # -- items ----------------------------------------------------------------------------
    def add(self, draft: OutreachDraft) -> int | None:
        """Store a draft as a new item waiting to be planned; its id, or None when an
        open item with its ``dedupe_key`` exists (or one closed within the window)."""
        now = self.clock.now()
        recent: ColumnElement[bool] = outreach_items.c.closed_at.is_(None)
        if draft.urgency != "critical" and self.dedupe_window_s > 0:
            recent = or_(recent, outreach_items.c.closed_at > now - self.dedupe_window_s)
        duplicate = select(outreach_items.c.id).where(
            outreach_items.c.dedupe_key == draft.dedupe_key, recent
        )
        row = _draft_row(draft, now)
        try:
            with self.engine.begin() as conn:
                if conn.execute(duplicate.limit(1)).first() is not None:
                    return None
                item_id: int = conn.execute(
                    insert(outreach_items).values(**row).returning(outreach_items.c.id)
                ).scalar_one()
        except IntegrityError:  # another process stored the same open key meanwhile
            return None
        log.info("outreach item=%s device=%s %s added", item_id, draft.device_id, draft.kind)
        return item_id

    def get(self, item_id: int) -> OutreachItem | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outreach_items).where(outreach_items.c.id == item_id)).first()
        return item_from(row) if row is not None else None

    def items(
        self,
        *,
        owner_id: str | None = None,
        status: str | None = None,
        delivered_only: bool = False,
        limit: int = 1000,
        device_id: str | None = None,
    ) -> list[OutreachItem]:
        """Newest first; an owner's inbox is ``owner_id`` with ``delivered_only``;
        ``device_id`` narrows it to one device's items."""
        query = select(outreach_items)
        if owner_id is not None:
            query = query.where(outreach_items.c.owner_id == owner_id)
        if device_id is not None:
            query = query.where(outreach_items.c.device_id == device_id)
        if status is not None:
            query = query.where(outreach_items.c.status == status)
        if delivered_only:
            query = query.where(outreach_items.c.delivered_at.is_not(None))
        query = query.order_by(outreach_items.c.created_at.desc(), outreach_items.c.id.desc())
        with self.engine.connect() as conn:
            return [item_from(r) for r in conn.execute(query.limit(limit))]

    def expire(self, now: float, unanswered_s: float) -> int:
        """Close items delivered ``unanswered_s`` ago and never answered; how many."""
        query = (
            update(outreach_items)
            .where(
                outreach_items.c.status == "delivered",
                outreach_items.c.delivered_at < now - unanswered_s,
            )
            .values(status="expired", closed_at=now, updated_at=now, note="never answered")
        )
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    # -- answers and outcomes -------------------------------------------------------------
    def respond(self, item_id: int, owner_id: str, answer: Answer) -> OutreachItem:
        """Log the owner's answer and move the item; raises ItemNotFound, or
        AnswerRejected (``conflict`` for a closed item). Listeners run after the commit."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(outreach_items).where(outreach_items.c.id == item_id).with_for_update()
            ).first()
            if row is None:
                raise ItemNotFound(f"no outreach item {item_id}")
            item = item_from(row)
            answer = _resolve_slot(item, answer)
            status = answer_status(item.kind, item.status, item.slots, answer)
            conn.execute(
                insert(outreach_responses).values(**_answer_row(item_id, owner_id, answer))
            )
            conn.execute(
                update(outreach_items)
                .where(outreach_items.c.id == item_id)
                .values(**_answered(status, answer))
            )
            if status in CLOSED_STATUSES or status == "snoozed":
                _cancel_pending(conn, item_id)
            stored = item_from(
                conn.execute(select(outreach_items).where(outreach_items.c.id == item_id)).one()
            )
        self._notify(self.response_listeners, stored, answer)
        return stored

    def record_outcome(self, item_id: int, outcome: str, note: str) -> OutreachItem:
        """The service team's word on what happened; closes the item (``done``)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            found = conn.execute(
                update(outreach_items)
                .where(outreach_items.c.id == item_id)
                .values(status="done", closed_at=now, updated_at=now, note=f"{outcome}: {note}")
            ).rowcount
            if not found:
                raise ItemNotFound(f"no outreach item {item_id}")
            conn.execute(
                insert(outreach_outcomes).values(
                    item_id=item_id, outcome=outcome, note=note, at=now
                )
            )
            _cancel_pending(conn, item_id)
            stored = item_from(
                conn.execute(select(outreach_items).where(outreach_items.c.id == item_id)).one()
            )
        self._notify(self.outcome_listeners, stored, Outcome(item_id, outcome, note, now))
        return stored

    def outcomes(self, item_id: int) -> list[Outcome]:
        query = select(outreach_outcomes).where(outreach_outcomes.c.item_id == item_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(outreach_outcomes.c.id)).all()
        return [Outcome(r.item_id, r.outcome, r.note, r.at) for r in rows]

    def answers(self, item_id: int) -> list[Answer]:
        """The item's answers, oldest first: what the service team's queue shows."""
        query = select(outreach_responses).where(outreach_responses.c.item_id == item_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(outreach_responses.c.id)).all()
        return [_answer_from(r) for r in rows]

    def _notify(self, listeners: list[Callable[[OutreachItem, Any], None]], *args: Any) -> None:
        for listener in listeners:
            try:
                listener(*args)
            except Exception:
                self.listener_errors += 1
                log.exception("outreach item=%s listener failed", args[0].id)

    # -- preferences ----------------------------------------------------------------------
    def preferences(self, owner_id: str) -> StoredPreferences:
        """The owner's preferences, or the defaults (with their account's email)."""
        query = select(owner_preferences).where(owner_preferences.c.owner_id == owner_id)
        email = select(owners_table.c.email).where(owners_table.c.id == owner_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            address = conn.execute(email).scalar_one_or_none() if row is None else None
        if row is None:
            return StoredPreferences(owner_id, default_preferences(address), True, None)
        prefs = OwnerPreferences.model_validate(row.preferences)
        return StoredPreferences(owner_id, prefs, False, row.webhook_secret)

    def set_preferences(
        self, owner_id: str, prefs: OwnerPreferences
    ) -> tuple[StoredPreferences, str | None]:
        """Store the owner's preferences; with a new webhook URL comes a new signing
        secret, returned this once (None when the webhook did not change)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(owner_preferences)
                .where(owner_preferences.c.owner_id == owner_id)
                .with_for_update()
            ).first()
            old_url = OwnerPreferences.model_validate(row.preferences).webhook_url if row else None
            secret = row.webhook_secret if row is not None else None
            new_secret = None
            if prefs.webhook_url is None:
                secret = None
            elif prefs.webhook_url != old_url or secret is None:
                secret = new_secret = secrets.token_urlsafe(32)
            values = {
                "preferences": prefs.model_dump(mode="json"),
                "webhook_secret": secret,
                "updated_at": now,
            }
            if row is None:
                conn.execute(insert(owner_preferences).values(owner_id=owner_id, **values))
            else:
                conn.execute(
                    update(owner_preferences)
                    .where(owner_preferences.c.owner_id == owner_id)
                    .values(**values)
                )
        return StoredPreferences(owner_id, prefs, False, secret), new_secret


def _draft_row(draft: OutreachDraft, now: float) -> dict[str, object]:
    return {
        "device_id": draft.device_id,
        "owner_id": draft.owner_id,
        "kind": draft.kind,
        "dedupe_key": draft.dedupe_key,
        "reason": draft.reason,
        "action": draft.action,
        "urgency": draft.urgency,
        "evidence": dict(draft.evidence),
        "predicted_failure_at": draft.predicted_failure_at,
        "lead_time_s": draft.lead_time_s,
        "slots": [[s.start_s, s.end_s] for s in draft.slots],
        "incident_id": draft.incident_id,
        "support_request_id": draft.support_request_id,
        "created_at": draft.created_at,
        "status": "new",
        "updated_at": now,
        "plan_after": now,
        "note": "",
    }


def _resolve_slot(item: OutreachItem, answer: Answer) -> Answer:
    """A booking names its slot by start; take the suggested slot that starts there."""
    if answer.response != "book" or answer.slot is None:
        return answer
    for slot in item.slots:
        if abs(slot.start_s - answer.slot.start_s) <= SLOT_TOLERANCE_S:
            return Answer(**{**answer.__dict__, "slot": slot})
    return answer


def _answered(status: ItemStatus, answer: Answer) -> dict[str, object]:
    values: dict[str, object] = {"status": status, "updated_at": answer.at}
    if status in CLOSED_STATUSES:
        values.update(closed_at=answer.at, plan_after=None)
    if status == "snoozed":
        values.update(plan_after=answer.until)
    if status == "booked" and answer.slot is not None:
        values.update(booked_start=answer.slot.start_s, booked_end=answer.slot.end_s)
    values["note"] = answer.text or ""
    return values


def _answer_row(item_id: int, owner_id: str, answer: Answer) -> dict[str, object]:
    return {
        "item_id": item_id,
        "owner_id": owner_id,
        "response": answer.response,
        "channel": answer.channel,
        "at": answer.at,
        "slot_start": answer.slot.start_s if answer.slot else None,
        "slot_end": answer.slot.end_s if answer.slot else None,
        "until": answer.until,
        "rating": answer.rating,
        "text": answer.text,
    }


def _answer_from(row: Row[Any]) -> Answer:
    slot = None
    if row.slot_start is not None:
        slot = ServiceSlot(
            row.slot_start, row.slot_end if row.slot_end is not None else row.slot_start
        )
    return Answer(row.response, row.at, slot, row.until, row.rating, row.text, row.channel)


def _cancel_pending(conn: Connection, item_id: int) -> None:
    """Deliveries not yet sent of an item the owner answered (or that closed) go nowhere."""
    d = outreach_deliveries
    conn.execute(
        update(d)
        .where(d.c.item_id == item_id, d.c.state == "pending")
        .values(state="cancelled", last_error="the item was answered or closed")
    )
