"""The service's outreach side for ``benchmarks/outreach.py``, in memory and in simulated
time: the planner's drafts stored one open item per dedupe key, each item planned for
delivery, sent when due, answered (or not) by its owner.

Every decision is the service's own pure function, called the way the service calls it:
``plan`` as the planning worker does (owners' zones, the policy), dedupe as
``OutreachStore.add`` keeps it, ``plan_delivery`` with ``learn_habits(...).advice`` as
``DeliveryWorker.decide`` does on a ``PlanningContext`` (the owner's non-critical
contacts sent or planned within a week for the cap, and the contacts of the last 180 days
with the answers known by then for the habits), ``welcome_at``/``next_welcome`` at
sending as ``DeliveryWorker._deliver`` checks them, and ``answer_status`` for answers.
What is left out: SQL, leases, retries (every channel here accepts at the first try).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from benchmarks.outreach_owners import Owner, SentContact, answer_time
from cloud.outreach.habits import Contact, learn_habits
from cloud.outreach.items import OutreachDraft
from cloud.outreach.planner import OutreachPolicy
from cloud.outreach.responses import CLOSED_STATUSES, Answer, answer_status
from cloud.outreach.schedule import DAY_S, WEEK_S, next_welcome, plan_delivery, welcome_at

HABIT_HISTORY_S = 180 * DAY_S
HABIT_HISTORY_MAX = 500
"""As ``cloud.db.deliveries`` reads the contacts habits learn from."""

Event = Callable[[float], object]


@dataclass
class Item:
    id: int
    draft: OutreachDraft
    status: str = "new"
    delivered_at: float | None = None
    closed_at: float | None = None


@dataclass
class _Planned:
    item_id: int
    owner_id: str
    channel: str
    due_at: float
    critical: bool
    sent: SentContact | None = None
    cancelled: bool = False


@dataclass
class Desk:
    """Items, deliveries and answers of one simulated population. ``at(t, event)``
    schedules work; ``run(until)`` does it in time order."""

    owners: Mapping[str, Owner]
    policy: OutreachPolicy
    rng: random.Random
    dedupe_window_s: float = 7 * DAY_S
    expire_after_s: float = 30 * DAY_S
    items: list[Item] = field(default_factory=list)
    sent: list[SentContact] = field(default_factory=list)
    planned: dict[str, list[_Planned]] = field(default_factory=dict)
    on_answer: list[Callable[[Item, Answer], None]] = field(default_factory=list)
    _by_key: dict[str, Item] = field(default_factory=dict)
    _queue: list[tuple[float, int, Event]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    now: float = 0.0

    # -- the clock ------------------------------------------------------------------------
    def at(self, ts: float, event: Event) -> None:
        heapq.heappush(self._queue, (ts, next(self._order), event))

    def run(self, until: float) -> None:
        while self._queue and self._queue[0][0] < until:
            ts, _, event = heapq.heappop(self._queue)
            self.now = ts
            event(ts)

    def zones(self, owner_ids: Iterable[str | None]) -> dict[str, str]:
        """Owners' zones as the planning worker reads them: from their preferences."""
        return {
            o: self.owners[o].prefs.time_zone
            for o in owner_ids
            if o is not None and o in self.owners
        }

    # -- storing drafts -------------------------------------------------------------------
    def add(self, drafts: Iterable[OutreachDraft], now: float) -> list[Item]:
        """Store drafts as ``OutreachStore.add`` does (one open item per dedupe key, and
        none within ``dedupe_window_s`` of the last one closing unless critical); each
        new item is planned at once, as the delivery worker's next poll would."""
        stored = []
        for draft in drafts:
            if draft.owner_id is None or draft.owner_id not in self.owners:
                continue
            last = self._by_key.get(draft.dedupe_key)
            if last is not None:
                self._expire(last, now)
                if last.closed_at is None:
                    continue
                recent = now - last.closed_at < self.dedupe_window_s
                if recent and draft.urgency != "critical" and self.dedupe_window_s > 0:
                    continue
            item = Item(len(self.items) + 1, draft)
            self.items.append(item)
            self._by_key[draft.dedupe_key] = item
            self.at(now, partial(self._plan, item))
            stored.append(item)
        return stored

    def _expire(self, item: Item, now: float) -> None:
        """Delivered and never answered for ``expire_after_s``: closed (``expire``)."""
        delivered = item.delivered_at
        unanswered = item.closed_at is None and item.status == "delivered"
        if unanswered and delivered is not None and now - delivered > self.expire_after_s:
            item.status, item.closed_at = "expired", delivered + self.expire_after_s

    # -- planning and sending -------------------------------------------------------------
    def _plan(self, item: Item, now: float) -> None:
        if item.closed_at is not None:
            return
        owner = self.owners[item.draft.owner_id or ""]
        prefs = owner.prefs
        habits = learn_habits(self._contacts(owner.owner_id, now), prefs.zone, now)
        deliveries = plan_delivery(
            item.draft.urgency, prefs, now, self._taken(owner.owner_id, now), habits.advice(prefs)
        )
        if not deliveries:  # kept, and tried again in a day (``DeliveryQueue._plan``)
            self.at(now + DAY_S, lambda t: self._plan(item, t))
            return
        item.status = "scheduled"
        for delivery in deliveries:
            planned = _Planned(
                item.id,
                owner.owner_id,
                delivery.channel,
                delivery.due_at,
                item.draft.safety_critical,
            )
            self.planned.setdefault(owner.owner_id, []).append(planned)
            self.at(delivery.due_at, partial(self._send, planned))

    def _taken(self, owner_id: str, now: float) -> list[float]:
        """Non-critical deliveries sent or still to send, at or after a week ago."""
        return [
            p.sent.sent_at if p.sent else p.due_at
            for p in self.planned.get(owner_id, [])
            if not p.critical
            and not p.cancelled
            and (p.sent.sent_at if p.sent else p.due_at) > now - WEEK_S
        ]

    def _contacts(self, owner_id: str, now: float) -> list[Contact]:
        sent = [
            p.sent
            for p in self.planned.get(owner_id, [])
            if p.sent and not p.critical and p.sent.sent_at > now - HABIT_HISTORY_S
        ][-HABIT_HISTORY_MAX:]
        return [
            Contact(
                s.channel,
                s.sent_at,
                s.answered_at if s.answered_at is not None and s.answered_at <= now else None,
            )
            for s in sent
        ]

    def _send(self, planned: _Planned, now: float) -> None:
        item = self.items[planned.item_id - 1]
        self._expire(item, now)
        if planned.cancelled or item.closed_at is not None:
            planned.cancelled = True  # ``_cancel_pending``: an answered item goes nowhere
            return
        owner = self.owners[planned.owner_id]
        if not planned.critical and not welcome_at(owner.prefs, now):
            until = next_welcome(owner.prefs, now) or now + DAY_S
            planned.due_at = until
            self.at(until, lambda t: self._send(planned, t))
            return
        channel = planned.channel
        answered = answer_time(owner, channel, now, self.rng)  # type: ignore[arg-type]
        contact = SentContact(
            owner.owner_id, item.id, item.draft.kind, channel, now, planned.critical,  # type: ignore[arg-type]
            answered, item.draft.device_id,
        )  # fmt: skip
        planned.sent = contact
        self.sent.append(contact)
        if item.delivered_at is None:
            item.delivered_at = now
        if item.status in ("new", "scheduled"):
            item.status = "delivered"
        if answered is not None:
            self.at(answered, lambda t: self._answer(item, contact, t))

    def _answer(self, item: Item, contact: SentContact, now: float) -> None:
        self._expire(item, now)
        if item.closed_at is not None:
            return
        draft = item.draft
        if draft.kind == "feedback_question":
            answer = Answer(
                "rate", now, rating=self.rng.choice((2, 4, 5, 5)), channel=contact.channel
            )
        elif draft.slots:
            answer = Answer("book", now, slot=draft.slots[0], channel=contact.channel)
        else:
            answer = Answer("decline", now, channel=contact.channel)
        item.status = answer_status(draft.kind, item.status, draft.slots, answer)
        if item.status in CLOSED_STATUSES:
            item.closed_at = now
        for planned in self.planned.get(contact.owner_id, []):
            if planned.item_id == item.id and planned.sent is None:
                planned.cancelled = True
        for listener in self.on_answer:
            listener(item, answer)


def first_contacts(sent: Sequence[SentContact], kind: str) -> dict[str, SentContact]:
    """Per device, the first contact of an item of ``kind``."""
    found: dict[str, SentContact] = {}
    for contact in sorted(sent, key=lambda c: c.sent_at):
        if contact.kind == kind:
            found.setdefault(contact.device_id, contact)
    return found
