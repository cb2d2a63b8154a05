"""What changed in the cloud's state since the last look: the rows behind the live
updates of the pages (server-sent events).

Every source is read by a timestamp column after a mark, the largest value seen so far.
Writers commit out of order, so each read looks back ``overlap_s`` before the mark and
drops what it has already reported (by key and value); devices, whose ``last_seen``
moves with every sample, are compared as a whole instead, and only a change of their
online state (or a new device) is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Column, Engine, func, or_, select

from cloud.db.schema import (
    campaigns,
    device_owners,
    devices,
    events,
    fix_attempts,
    incidents,
    outreach_items,
    setup_completions,
    sim_runs,
    support_requests,
)

ChangeKind = Literal["incident", "device", "setup", "outreach", "support", "campaign", "sim_run"]


@dataclass(frozen=True)
class Change:
    """One row that changed: ``key`` names it within its kind (an incident id, a device
    id); ``device_id`` and ``owner_id`` say who may see it."""

    kind: ChangeKind
    key: str
    device_id: str | None
    owner_id: str | None
    data: dict[str, Any]


@dataclass
class _Mark:
    """How far one source has been read, and what was reported within the overlap."""

    value: float | None = None
    reported: dict[tuple[str, float], float] = field(default_factory=dict)

    def fresh(self, key: str, value: float) -> bool:
        if (key, value) in self.reported:
            return False
        self.reported[(key, value)] = value
        return True

    def since(self, overlap_s: float) -> float:
        assert self.value is not None, "read after the first look"
        return self.value - overlap_s

    def advance(self, values: Iterable[float], overlap_s: float) -> None:
        for value in values:
            if self.value is None or value > self.value:
                self.value = value
        if self.value is not None:
            horizon = self.value - overlap_s
            self.reported = {k: v for k, v in self.reported.items() if v >= horizon}


@dataclass(frozen=True)
class Source:
    """One table read by a timestamp column: each row that moved is a change of ``kind``
    named by ``key``, carrying the ``extra`` columns (a ``device_id`` or ``owner_id``
    among them says who may see it)."""

    name: str
    kind: ChangeKind
    moved: Column[Any]
    key: Column[Any]
    extra: tuple[Column[Any], ...]


SOURCES = (
    Source(
        "incidents",
        "incident",
        incidents.c.updated_at,
        incidents.c.id,
        (incidents.c.device_id, incidents.c.status, incidents.c.signature),
    ),
    Source(
        "verdicts",
        "incident",
        incidents.c.verdict_at,
        incidents.c.id,
        (incidents.c.device_id, incidents.c.status, incidents.c.signature),
    ),
    Source(
        "claims",
        "device",
        device_owners.c.claimed_at,
        device_owners.c.device_id,
        (device_owners.c.device_id, device_owners.c.owner_id),
    ),
    Source(
        "setup_completions",
        "setup",
        setup_completions.c.completed_at,
        setup_completions.c.device_id,
        (setup_completions.c.device_id, setup_completions.c.step),
    ),
    Source("events", "setup", events.c.ts, events.c.device_id, (events.c.device_id, events.c.kind)),
    Source(
        "outreach",
        "outreach",
        outreach_items.c.updated_at,
        outreach_items.c.id,
        (
            outreach_items.c.device_id,
            outreach_items.c.owner_id,
            outreach_items.c.status,
            outreach_items.c.kind,
        ),
    ),
    Source(
        "support",
        "support",
        support_requests.c.updated_at,
        support_requests.c.id,
        (support_requests.c.device_id, support_requests.c.owner_id, support_requests.c.status),
    ),
    Source("campaigns", "campaign", campaigns.c.updated_at, campaigns.c.id, (campaigns.c.status,)),
    Source(
        "sim_runs",
        "sim_run",
        sim_runs.c.recorded_at,
        sim_runs.c.id,
        (sim_runs.c.scenario, sim_runs.c.passed),
    ),
)
"""Every source but devices (compared whole) and fix attempts (which change incidents)."""


class ChangeReader:
    """Reads the changes of every source since the previous call. The first call only
    sets the marks (what existed before anyone listened is not news)."""

    def __init__(self, engine: Engine, overlap_s: float = 5.0) -> None:
        self.engine = engine
        self.overlap_s = overlap_s
        self._marks: dict[str, _Mark] = {}
        self._online: dict[str, bool] | None = None

    def read(self) -> list[Change]:
        with self.engine.connect() as conn:
            changes = self._devices(conn) + self._attempts(conn)
            for source in SOURCES:
                changes += self._by_time(conn, source)
        owners = self._owners_of({c.device_id for c in changes if c.device_id and not c.owner_id})
        return [
            c
            if c.owner_id or c.device_id is None
            else Change(c.kind, c.key, c.device_id, owners.get(c.device_id), c.data)
            for c in changes
        ]

    def _owners_of(self, device_ids: set[str]) -> dict[str, str]:
        if not device_ids:
            return {}
        query = select(device_owners.c.device_id, device_owners.c.owner_id).where(
            device_owners.c.device_id.in_(sorted(device_ids))
        )
        with self.engine.connect() as conn:
            return {r.device_id: r.owner_id for r in conn.execute(query)}

    def _devices(self, conn: Any) -> list[Change]:
        rows = conn.execute(select(devices.c.id, devices.c.model, devices.c.online)).all()
        now = {r.id: bool(r.online) for r in rows}
        before, self._online = self._online, now
        if before is None:
            return []
        models = {r.id: r.model for r in rows}
        return [
            Change("device", d, d, None, {"id": d, "model": models[d], "online": online})
            for d, online in now.items()
            if before.get(d) != online
        ]

    def _attempts(self, conn: Any) -> list[Change]:
        """A fix sent, answered or judged changes its incident."""
        moved = func.coalesce(fix_attempts.c.result_at, fix_attempts.c.sent_at)
        mark = self._marks.setdefault("attempts", _Mark())
        first = self._start(conn, mark, moved)
        since = mark.since(self.overlap_s)
        query = select(
            fix_attempts.c.command_id,
            fix_attempts.c.incident_id,
            fix_attempts.c.device_id,
            fix_attempts.c.verified,
            moved.label("moved"),
        ).where(or_(fix_attempts.c.sent_at > since, fix_attempts.c.result_at > since))
        rows = conn.execute(query).all()
        mark.advance((float(r.moved) for r in rows), self.overlap_s)
        out: dict[str, Change] = {}
        for r in rows:
            if mark.fresh(f"{r.command_id}:{r.verified}", float(r.moved)) and not first:
                key = str(r.incident_id)
                out[key] = Change("incident", key, r.device_id, None, {"id": r.incident_id})
        return list(out.values())

    def _by_time(self, conn: Any, source: Source) -> list[Change]:
        kind, moved, key = source.kind, source.moved, source.key
        state = self._marks.setdefault(source.name, _Mark())
        first = self._start(conn, state, moved)
        query = select(key.label("key"), moved.label("moved"), *source.extra).where(
            moved > state.since(self.overlap_s)
        )
        rows = conn.execute(query).all()
        state.advance((float(r.moved) for r in rows), self.overlap_s)
        out = []
        for r in rows:
            data = r._asdict()
            row_key = str(data.pop("key"))
            if not state.fresh(row_key, float(data.pop("moved"))) or first:
                continue
            data["id"] = row_key if kind in ("setup", "device") else int(row_key)
            out.append(Change(kind, row_key, data.get("device_id"), data.get("owner_id"), data))
        return out

    @staticmethod
    def _start(conn: Any, state: _Mark, moved: Any) -> bool:
        """On the first look, set the mark at the newest row: True while the rows read
        now are what existed before (remembered as reported, not reported)."""
        if state.value is not None:
            return False
        latest = conn.execute(select(func.max(moved))).scalar()
        state.value = float(latest) if latest is not None else float("-inf")
        return True
