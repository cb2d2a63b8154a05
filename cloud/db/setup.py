"""Setup progress as stored: the device's self-check events (table ``events``, written
by ingest), its owner's ticks and the support items opened for steps that failed or
stalled. The state itself is computed by the pure core (:mod:`cloud.setup`) whenever it
is read, so there is no second source of truth for the device's checks; reading it also
opens and resolves the support items it calls for (outreach reads those)."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloud.db.schema import (
    device_owners,
    devices,
    events,
    factory_devices,
    setup_completions,
    support_items,
)
from cloud.setup import (
    SELF_CHECK_EVENT,
    Checklists,
    SetupEvent,
    SetupState,
    setup_state,
)
from device_agent.clock import Clock

CHUNK = 500
"""Device ids per ``IN (...)`` query: well under every database's parameter limit."""


@dataclass(frozen=True)
class SetupSubject:
    """A device whose setup can be shown: it reported, or a factory batch made it."""

    device_id: str
    model: str | None
    firmware: str | None
    owner_id: str | None
    claimed_at: float | None


@dataclass(frozen=True)
class SupportItem:
    id: int
    device_id: str
    step: str
    reason: str
    opened_at: float
    resolved_at: float | None


class SetupStore:
    """Thread-safe (SQLAlchemy engine, one transaction per call)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def subject(self, device_id: str) -> SetupSubject | None:
        """The device as setup sees it: its model and firmware as it reported them (a
        status message), else as its factory batch recorded them."""
        owner = select(device_owners.c.owner_id, device_owners.c.claimed_at).where(
            device_owners.c.device_id == device_id
        )
        reported = select(devices.c.model, devices.c.firmware).where(devices.c.id == device_id)
        made = select(factory_devices.c.model, factory_devices.c.firmware).where(
            factory_devices.c.device_id == device_id
        )
        with self.engine.connect() as conn:
            link = conn.execute(owner).first()
            rows = [r for r in (conn.execute(reported).first(), conn.execute(made).first()) if r]
        if not rows and link is None:
            return None
        return SetupSubject(
            device_id,
            next((r.model for r in rows if r.model), None),
            next((r.firmware for r in rows if r.firmware), None),
            link.owner_id if link else None,
            link.claimed_at if link else None,
        )

    def subjects(self, model: str | None, firmware: str | None) -> list[SetupSubject]:
        """Every device that has reported, optionally of one model and firmware (as it
        reported them, else as its factory batch recorded them): the population of the
        activation funnel."""
        model_of = func.coalesce(devices.c.model, factory_devices.c.model)
        firmware_of = func.coalesce(devices.c.firmware, factory_devices.c.firmware)
        query = (
            select(
                devices.c.id,
                model_of.label("model"),
                firmware_of.label("firmware"),
                device_owners.c.owner_id,
                device_owners.c.claimed_at,
            )
            .outerjoin(device_owners, device_owners.c.device_id == devices.c.id)
            .outerjoin(factory_devices, factory_devices.c.device_id == devices.c.id)
        )
        if model is not None:
            query = query.where(model_of == model)
        if firmware is not None:
            query = query.where(firmware_of == firmware)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(devices.c.id)).all()
        return [SetupSubject(r.id, r.model, r.firmware, r.owner_id, r.claimed_at) for r in rows]

    def owned(self, owner_id: str) -> list[SetupSubject]:
        """The owner's claimed devices, those still in their box (never reported) too,
        by id: model and firmware as reported, else as the factory batch recorded them."""
        model_of = func.coalesce(devices.c.model, factory_devices.c.model)
        firmware_of = func.coalesce(devices.c.firmware, factory_devices.c.firmware)
        query = (
            select(
                device_owners.c.device_id,
                model_of.label("model"),
                firmware_of.label("firmware"),
                device_owners.c.owner_id,
                device_owners.c.claimed_at,
            )
            .outerjoin(devices, devices.c.id == device_owners.c.device_id)
            .outerjoin(factory_devices, factory_devices.c.device_id == device_owners.c.device_id)
            .where(device_owners.c.owner_id == owner_id)
            .order_by(device_owners.c.device_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            SetupSubject(r.device_id, r.model, r.firmware, r.owner_id, r.claimed_at) for r in rows
        ]

    def complete(self, device_id: str, owner_id: str, step: str) -> float:
        """Record that the owner did ``step``; idempotent: a repeat keeps (and returns)
        the first time."""
        now = self.clock.now()
        row = {"device_id": device_id, "step": step, "owner_id": owner_id, "completed_at": now}
        with contextlib.suppress(IntegrityError), self.engine.begin() as conn:
            conn.execute(insert(setup_completions).values(**row))
        query = select(setup_completions.c.completed_at).where(
            setup_completions.c.device_id == device_id, setup_completions.c.step == step
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one())

    def states(self, subjects: Sequence[SetupSubject], checklists: Checklists) -> list[SetupState]:
        """Each device's setup state now, in order; opens a support item for each step
        that newly needs one and resolves those no longer needed."""
        ids = [s.device_id for s in subjects]
        runs = self._events(ids)
        ticks = self._completions(ids)
        now = self.clock.now()
        states = [
            setup_state(
                checklists.for_model(s.model),
                runs.get(s.device_id, ()),
                ticks.get(s.device_id, {}),
                s.claimed_at,
                now,
            )
            for s in subjects
        ]
        self._sync_support({i: st.support_needed() for i, st in zip(ids, states, strict=True)})
        return states

    def refresh_support(self, checklists: Checklists) -> None:
        """Bring every device's support items up to date (what outreach reads), as
        reading its setup state would."""
        self.states(self.subjects(None, None), checklists)

    def support_items(self, open_only: bool = True, limit: int = 1000) -> list[SupportItem]:
        """Support items, oldest first (open ones only, unless asked)."""
        query = select(support_items).order_by(support_items.c.opened_at, support_items.c.id)
        if open_only:
            query = query.where(support_items.c.resolved_at.is_(None))
        with self.engine.connect() as conn:
            return [SupportItem(**r._mapping) for r in conn.execute(query.limit(limit))]

    def _events(self, ids: list[str]) -> dict[str, list[SetupEvent]]:
        found: dict[str, list[SetupEvent]] = defaultdict(list)
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                query = select(events.c.device_id, events.c.ts, events.c.detail).where(
                    events.c.kind == SELF_CHECK_EVENT, events.c.device_id.in_(chunk)
                )
                for row in conn.execute(query):
                    detail = row.detail if isinstance(row.detail, dict) else {}
                    found[row.device_id].append(SetupEvent(SELF_CHECK_EVENT, row.ts, detail))
        return found

    def _completions(self, ids: list[str]) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = defaultdict(dict)
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                query = select(setup_completions).where(setup_completions.c.device_id.in_(chunk))
                for row in conn.execute(query):
                    found[row.device_id][row.step] = row.completed_at
        return found

    def _sync_support(self, needed: Mapping[str, list[tuple[str, str]]]) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            for chunk in _chunks(list(needed)):
                query = select(support_items.c.id, support_items.c.device_id, support_items.c.step)
                query = query.where(
                    support_items.c.resolved_at.is_(None), support_items.c.device_id.in_(chunk)
                )
                open_items = {(r.device_id, r.step): r.id for r in conn.execute(query)}
                wanted = {(d, step): reason for d in chunk for step, reason in needed[d]}
                done = [i for key, i in open_items.items() if key not in wanted]
                if done:
                    conn.execute(
                        update(support_items)
                        .where(support_items.c.id.in_(done))
                        .values(resolved_at=now)
                    )
                new = [
                    {"device_id": d, "step": s, "reason": r[:1000], "opened_at": now}
                    for (d, s), r in wanted.items()
                    if (d, s) not in open_items
                ]
                if new:
                    _insert_new(conn, new)


def _insert_new(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Open items; one another reader opened meanwhile is left as it is (the partial
    unique index keeps one open item per device and step)."""
    for row in rows:
        with contextlib.suppress(IntegrityError), conn.begin_nested():
            conn.execute(insert(support_items).values(**row))


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def forget_owner_steps(conn: Any, device_id: str, now: float) -> None:
    """On release: the owner's ticks go with the owner; open support items are resolved
    (the next owner's setup opens its own)."""
    conn.execute(setup_completions.delete().where(setup_completions.c.device_id == device_id))
    conn.execute(
        update(support_items)
        .where(and_(support_items.c.device_id == device_id, support_items.c.resolved_at.is_(None)))
        .values(resolved_at=now)
    )


__all__ = ["SetupStore", "SetupSubject", "SupportItem", "forget_owner_steps"]
