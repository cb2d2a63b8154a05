"""Incident rows: opened and resolved by the scoring worker, read by the API.

Opening is idempotent per (device, signature): while one is open (or being mitigated),
opening again returns it instead of creating a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, and_, select, update

from cloud.db.schema import incidents
from cloud.incidents.tracker import IncidentOpened, IncidentResolved

IncidentStatus = Literal["open", "mitigating", "resolved", "escalated"]
ACTIVE: tuple[IncidentStatus, ...] = ("open", "mitigating")


@dataclass(frozen=True)
class IncidentRecord:
    id: int
    device_id: str
    model: str | None
    signature: str
    status: str
    opened_at: float
    evidence_since: float
    updated_at: float
    resolved_at: float | None
    peak_score: float
    explanation: dict[str, Any]


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    device_id: str | None = None
    signature: str | None = None
    model: str | None = None
    since: float | None = None
    device_ids: frozenset[str] | None = None
    """Restrict to these devices (an owner's); None means no restriction."""


class IncidentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, decisions: list[tuple[IncidentOpened | IncidentResolved, str | None]]) -> None:
        """Apply the tracker's decisions (each with the device's model) in one transaction."""
        with self.engine.begin() as conn:
            for decision, model in decisions:
                if isinstance(decision, IncidentOpened):
                    self._open(conn, decision, model)
                else:
                    self._resolve(conn, decision)

    def _active_id(self, conn: Any, device_id: str, signature: str) -> int | None:
        query = select(incidents.c.id).where(
            and_(
                incidents.c.device_id == device_id,
                incidents.c.signature == signature,
                incidents.c.status.in_(ACTIVE),
            )
        )
        found = conn.scalar(query)
        return int(found) if found is not None else None

    def _open(self, conn: Any, opened: IncidentOpened, model: str | None) -> None:
        if self._active_id(conn, opened.device_id, opened.signature) is not None:
            return
        conn.execute(
            incidents.insert().values(
                device_id=opened.device_id,
                model=model,
                signature=opened.signature,
                status="open",
                opened_at=opened.opened_at,
                evidence_since=opened.evidence_since,
                updated_at=opened.opened_at,
                peak_score=opened.score,
                explanation=opened.explanation,
            )
        )

    def _resolve(self, conn: Any, resolved: IncidentResolved) -> None:
        incident_id = self._active_id(conn, resolved.device_id, resolved.signature)
        if incident_id is None:
            return
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(
                status="resolved",
                resolved_at=resolved.resolved_at,
                updated_at=resolved.resolved_at,
                peak_score=resolved.peak_score,
            )
        )

    def active(self) -> list[tuple[str, str]]:
        """(device, signature) of every open or mitigating incident, to restore trackers."""
        query = select(incidents.c.device_id, incidents.c.signature).where(
            incidents.c.status.in_(ACTIVE)
        )
        with self.engine.connect() as conn:
            return [(r.device_id, r.signature) for r in conn.execute(query)]

    def find(self, where: IncidentFilter, limit: int = 500) -> list[IncidentRecord]:
        conditions = []
        if where.status is not None:
            conditions.append(incidents.c.status == where.status)
        if where.device_id is not None:
            conditions.append(incidents.c.device_id == where.device_id)
        if where.signature is not None:
            conditions.append(incidents.c.signature == where.signature)
        if where.model is not None:
            conditions.append(incidents.c.model == where.model)
        if where.since is not None:
            conditions.append(incidents.c.opened_at >= where.since)
        if where.device_ids is not None:
            conditions.append(incidents.c.device_id.in_(sorted(where.device_ids)))
        query = select(incidents).where(and_(True, *conditions))
        query = query.order_by(incidents.c.opened_at.desc(), incidents.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [IncidentRecord(**row._mapping) for row in conn.execute(query)]

    def get(self, incident_id: int) -> IncidentRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
        return IncidentRecord(**row._mapping) if row else None
