"""The delivery due-queue, in the database so that a restart loses nothing and several
cloud processes share the work without sending anything twice.

Planning and sending both take their work with one statement, ``WITH picked AS (SELECT
... LIMIT n [FOR UPDATE SKIP LOCKED]) UPDATE ... FROM picked ... RETURNING``: on
PostgreSQL the select skips rows another process holds, so processes never wait for or
share a row; on SQLite the statement takes the database's single write lock, so claims
serialise. (Not ``WHERE id IN (subquery)``: PostgreSQL may run a locking subquery once
per outer row, and then a LIMIT no longer limits.) A
claim is a lease: ``claimed`` with ``lease_owner`` and ``lease_until``. The claimant
marks the row ``sent`` (or failed, or due again later) only while it still holds the
lease; a process that died leaves its claims to be taken again once the lease ends (the
send may then repeat, which is why every delivery carries its stable id to the receiver).

Planning a new (or snoozed) item runs the caller's pure decision inside the transaction
that claimed the item, under a per-owner lock on PostgreSQL, so two processes planning
items of the same owner cannot both take the last contact the cap allows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, insert, or_, select, update

from cloud.db.outreach import OutreachItem, OutreachStore, StoredPreferences, item_from
from cloud.db.schema import outreach_deliveries, outreach_items, outreach_responses
from cloud.outreach.habits import Contact
from cloud.outreach.preferences import Channel
from cloud.outreach.schedule import WEEK_S, Delivery

D = outreach_deliveries
I = outreach_items  # noqa: E741 - the table, as in SQL
HABIT_HISTORY_S = 180 * 86_400.0
HABIT_HISTORY_MAX = 500


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    item_id: int
    owner_id: str
    channel: Channel
    critical: bool
    due_at: float
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    lease_owner: str | None
    lease_until: float | None
    sent_at: float | None


@dataclass(frozen=True)
class PlanningContext:
    """What a delivery decision needs: the item, the owner's terms, their non-critical
    contacts sent or planned (``taken``, for the cap) and past contacts (for habits)."""

    item: OutreachItem
    preferences: StoredPreferences
    taken: list[float]
    contacts: list[Contact]


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease on, with what sending it needs."""

    delivery: DeliveryRow
    item: OutreachItem
    preferences: StoredPreferences


Decide = Callable[[PlanningContext], Sequence[Delivery]]


def _row(r: Row[Any]) -> DeliveryRow:
    return DeliveryRow(
        r.id, r.item_id, r.owner_id, r.channel, r.critical, r.due_at, r.state, r.attempts,
        r.next_attempt_at, r.last_error, r.lease_owner, r.lease_until, r.sent_at,
    )  # fmt: skip


class DeliveryQueue:
    """Thread-safe and process-safe (see the module's docstring)."""

    def __init__(self, engine: Engine, outreach: OutreachStore) -> None:
        self.engine = engine
        self.outreach = outreach
        self.postgres = engine.dialect.name == "postgresql"

    # -- planning -------------------------------------------------------------------------
    def plan_due(self, now: float, limit: int, decide: Decide) -> int:
        """Plan up to ``limit`` items waiting for it (``plan_after`` passed), one
        transaction each; how many were planned. An item without an owner is kept for
        the service team, never delivered."""
        planned = 0
        for _ in range(limit):
            with self.engine.begin() as conn:
                row = self._take_item(conn, now)
                if row is None:
                    break
                item = item_from(row)
                self._plan(conn, item, now, decide)
                planned += 1
        return planned

    def _take_item(self, conn: Connection, now: float) -> Row[Any] | None:
        waiting = and_(I.c.plan_after <= now, I.c.closed_at.is_(None))
        inner = select(I.c.id).where(waiting).order_by(I.c.plan_after, I.c.id).limit(1)
        if self.postgres:
            inner = inner.with_for_update(skip_locked=True)
        picked = inner.cte("picked")
        taken = conn.execute(
            update(I).where(I.c.id == picked.c.id, waiting).values(plan_after=None)
            .returning(I.c.id)
        ).first()  # fmt: skip
        if taken is None:
            return None
        return conn.execute(select(I).where(I.c.id == taken.id)).one()

    def _plan(self, conn: Connection, item: OutreachItem, now: float, decide: Decide) -> None:
        if item.owner_id is None:
            conn.execute(update(I).where(I.c.id == item.id).values(note="no owner to contact"))
            return
        if self.postgres:  # one planner per owner at a time: the cap is counted, then kept
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(item.owner_id))))
        context = PlanningContext(
            item,
            self.outreach.preferences(item.owner_id),
            self._taken(conn, item.owner_id, now),
            self._contacts(conn, item.owner_id, now),
        )
        deliveries = list(decide(context))
        for delivery in deliveries:
            conn.execute(
                insert(D).values(
                    id=f"dlv-{uuid.uuid4().hex}", item_id=item.id, owner_id=item.owner_id,
                    channel=delivery.channel, critical=item.urgency == "critical",
                    due_at=delivery.due_at, state="pending", attempts=0,
                    next_attempt_at=delivery.due_at, created_at=now,
                )
            )  # fmt: skip
        values: dict[str, object] = {"updated_at": now}
        if deliveries:
            values.update(status="scheduled", note="")
        else:
            values.update(note="no contact time within the owner's terms; retried in a day")
            values.update(plan_after=now + 86_400.0)
        conn.execute(update(I).where(I.c.id == item.id).values(**values))

    def _taken(self, conn: Connection, owner_id: str, now: float) -> list[float]:
        at = func.coalesce(D.c.sent_at, D.c.next_attempt_at)
        query = select(at).where(
            D.c.owner_id == owner_id,
            D.c.critical.is_(False),
            D.c.state.in_(("pending", "claimed", "sent")),
            at > now - WEEK_S,
        )
        return [float(t) for t in conn.execute(query).scalars()]

    def _contacts(self, conn: Connection, owner_id: str, now: float) -> list[Contact]:
        """Sent contacts, each answered by the item's first answer after it (and before
        the item's next contact) on its channel or an unnamed one."""
        sent = conn.execute(
            select(D.c.item_id, D.c.channel, D.c.sent_at)
            .where(D.c.owner_id == owner_id, D.c.state == "sent", D.c.critical.is_(False))
            .where(D.c.sent_at > now - HABIT_HISTORY_S)
            .order_by(D.c.sent_at.desc())
            .limit(HABIT_HISTORY_MAX)
        ).all()
        answers: dict[int, list[tuple[float, str | None]]] = defaultdict(list)
        query = select(
            outreach_responses.c.item_id, outreach_responses.c.at, outreach_responses.c.channel
        )
        query = query.where(
            outreach_responses.c.owner_id == owner_id,
            outreach_responses.c.at > now - HABIT_HISTORY_S,
        )
        for answer in conn.execute(query.order_by(outreach_responses.c.at)):
            answers[answer.item_id].append((answer.at, answer.channel))
        later: dict[int, float] = {}
        contacts = []
        for row in sent:  # newest first: the next contact of the same item is known
            until = later.get(row.item_id, float("inf"))
            answered = next(
                (
                    at
                    for at, channel in answers[row.item_id]
                    if row.sent_at <= at < until and channel in (None, row.channel)
                ),
                None,
            )
            contacts.append(Contact(row.channel, row.sent_at, answered))
            later[row.item_id] = row.sent_at
        return contacts

    # -- sending --------------------------------------------------------------------------
    def claim_due(
        self, now: float, limit: int, worker_id: str, lease_s: float = 300.0
    ) -> list[Claim]:
        """Take up to ``limit`` due deliveries (or ones whose lease ran out) for
        ``worker_id``; each attempt is counted as it is claimed."""
        due = or_(
            and_(D.c.state == "pending", D.c.next_attempt_at <= now),
            and_(D.c.state == "claimed", D.c.lease_until <= now),
        )
        inner = select(D.c.id).where(due).order_by(D.c.next_attempt_at, D.c.id).limit(limit)
        if self.postgres:
            inner = inner.with_for_update(skip_locked=True)
        picked = inner.cte("picked")
        claim = (
            update(D)
            .where(D.c.id == picked.c.id, due)
            .values(
                state="claimed",
                lease_owner=worker_id,
                lease_until=now + lease_s,
                attempts=D.c.attempts + 1,
            )
            .returning(*D.c)
        )
        with self.engine.begin() as conn:
            rows = [_row(r) for r in conn.execute(claim)]
            items = {
                r.id: item_from(r)
                for r in conn.execute(select(I).where(I.c.id.in_({d.item_id for d in rows})))
            }
        rows.sort(key=lambda d: (d.next_attempt_at, d.id))
        prefs: dict[str, StoredPreferences] = {}
        claims = []
        for row in rows:
            if row.owner_id not in prefs:
                prefs[row.owner_id] = self.outreach.preferences(row.owner_id)
            claims.append(Claim(row, items[row.item_id], prefs[row.owner_id]))
        return claims

    def _finish(self, delivery_id: str, worker_id: str, **values: object) -> bool:
        held = and_(D.c.id == delivery_id, D.c.state == "claimed", D.c.lease_owner == worker_id)
        with self.engine.begin() as conn:
            changed = conn.execute(update(D).where(held).values(**values)).rowcount
            if changed and values.get("state") == "sent":
                item_id = conn.execute(
                    select(D.c.item_id).where(D.c.id == delivery_id)
                ).scalar_one()
                self._delivered(conn, item_id, float(values["sent_at"]))  # type: ignore[arg-type]
        return bool(changed)

    @staticmethod
    def _delivered(conn: Connection, item_id: int, now: float) -> None:
        conn.execute(
            update(I)
            .where(I.c.id == item_id)
            .values(delivered_at=func.coalesce(I.c.delivered_at, now), updated_at=now)
        )
        conn.execute(
            update(I)
            .where(I.c.id == item_id, I.c.status.in_(("new", "scheduled")))
            .values(status="delivered")
        )

    def mark_sent(self, delivery_id: str, worker_id: str, now: float) -> bool:
        """The receiver has it; False when the lease was lost meanwhile."""
        return self._finish(
            delivery_id, worker_id, state="sent", sent_at=now, lease_owner=None, lease_until=None,
            last_error=None,
        )  # fmt: skip

    def mark_failed(
        self, delivery_id: str, worker_id: str, error: str, retry_at: float | None
    ) -> bool:
        """This attempt failed: due again at ``retry_at``, or given up (None), the error
        kept either way."""
        if retry_at is None:
            return self._finish(
                delivery_id, worker_id, state="failed", last_error=error, lease_owner=None,
                lease_until=None,
            )  # fmt: skip
        return self._finish(
            delivery_id, worker_id, state="pending", next_attempt_at=retry_at, last_error=error,
            lease_owner=None, lease_until=None,
        )  # fmt: skip

    def postpone(self, delivery_id: str, worker_id: str, until: float, why: str) -> bool:
        """Not sent and not counted as an attempt: due again at ``until`` (a non-critical
        delivery found outside the owner's window, after the cloud was down)."""
        return self._finish(
            delivery_id, worker_id, state="pending", next_attempt_at=until,
            attempts=D.c.attempts - 1, last_error=why, lease_owner=None, lease_until=None,
        )  # fmt: skip

    def make_visible(self, item_id: int, now: float) -> None:
        """Put the item in the owner's inbox without a contact (its channel gave up)."""
        with self.engine.begin() as conn:
            self._delivered(conn, item_id, now)

    def release(self, worker_id: str) -> int:
        """Give back every claim of ``worker_id`` not sent yet (a clean stop)."""
        query = (
            update(D)
            .where(D.c.state == "claimed", D.c.lease_owner == worker_id)
            .values(state="pending", attempts=D.c.attempts - 1, lease_owner=None, lease_until=None)
        )
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def for_items(self, item_ids: Sequence[int]) -> dict[int, list[DeliveryRow]]:
        """Deliveries per item, oldest first: the service team's view of where each is."""
        found: dict[int, list[DeliveryRow]] = {i: [] for i in item_ids}
        if not item_ids:
            return found
        query = select(D).where(D.c.item_id.in_(item_ids)).order_by(D.c.created_at, D.c.id)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found[row.item_id].append(_row(row))
        return found
