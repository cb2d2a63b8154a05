"""Incident rows: opened and resolved by the scoring worker, read by the API.

Opening is idempotent per (device, signature): while one is open (or being mitigated),
opening again returns it instead of creating a second. Every committed status change is
told to the store's ``change_listeners`` (see :class:`IncidentChange`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, and_, case, func, select, update

from cloud.db.records import IncidentChange
from cloud.db.schema import detector_tunings, incidents
from cloud.incidents.tracker import IncidentOpened, IncidentResolved
from cloud.incidents.tuning import Tuning, after_false_positive

log = logging.getLogger("aftercare.incidents")

IncidentStatus = Literal["open", "mitigating", "resolved", "escalated"]
ACTIVE: tuple[IncidentStatus, ...] = ("open", "mitigating")

IncidentListener = Callable[[IncidentChange], None]
"""Told of each committed incident change, in the thread that made it (return fast)."""


class IncidentListeners(list[IncidentListener]):
    """A store's change listeners. A failing listener is counted and logged with its
    traceback; the change is committed already, and neither the caller nor the other
    listeners are held up by it."""

    errors: int = 0

    def tell(self, changes: Sequence[IncidentChange]) -> None:
        for change in changes:
            for listener in self:
                try:
                    listener(change)
                except Exception:
                    self.errors += 1
                    log.exception("incident=%s listener %r failed", change.incident_id, listener)


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
    verdict: str | None = None
    verdict_at: float | None = None
    verdict_note: str | None = None
    escalation: str | None = None
    """Why self-healing handed the incident to people (with ``status`` escalated)."""


Verdict = Literal["false_positive", "confirmed"]


@dataclass(frozen=True)
class SignatureStats:
    """How one signature has fared with the service team's verdicts."""

    signature: str
    incidents: int
    confirmed: int
    false_positive: int


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
        self.change_listeners = IncidentListeners()

    def record(self, decisions: list[tuple[IncidentOpened | IncidentResolved, str | None]]) -> None:
        """Apply the tracker's decisions (each with the device's model) in one transaction."""
        changes: list[IncidentChange] = []
        with self.engine.begin() as conn:
            for decision, model in decisions:
                if isinstance(decision, IncidentOpened):
                    change = self._open(conn, decision, model)
                else:
                    change = self._resolve(conn, decision)
                if change is not None:
                    changes.append(change)
        self.change_listeners.tell(changes)

    def _active(self, conn: Any, device_id: str, signature: str) -> tuple[int, str | None] | None:
        """The (id, model) of the device's open or mitigating incident of ``signature``."""
        query = select(incidents.c.id, incidents.c.model).where(
            and_(
                incidents.c.device_id == device_id,
                incidents.c.signature == signature,
                incidents.c.status.in_(ACTIVE),
            )
        )
        found = conn.execute(query).first()
        return (int(found.id), found.model) if found is not None else None

    def _open(self, conn: Any, opened: IncidentOpened, model: str | None) -> IncidentChange | None:
        if self._active(conn, opened.device_id, opened.signature) is not None:
            return None
        inserted = conn.execute(
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
        return IncidentChange(
            int(inserted.inserted_primary_key[0]),
            opened.device_id,
            model,
            opened.signature,
            "open",
            opened.opened_at,
            opened.score,
        )

    def _resolve(self, conn: Any, resolved: IncidentResolved) -> IncidentChange | None:
        active = self._active(conn, resolved.device_id, resolved.signature)
        if active is None:
            return None
        incident_id, model = active
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
        return IncidentChange(
            incident_id,
            resolved.device_id,
            model,
            resolved.signature,
            "resolved",
            resolved.resolved_at,
            resolved.peak_score,
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

    # --- verdicts and what they teach detection ---------------------------------------

    def set_verdict(
        self, incident_id: int, verdict: Verdict, note: str, at: float
    ) -> tuple[IncidentRecord, Tuning | None] | None:
        """Record a service verdict; a false positive also closes the incident and leaves
        a tuning for the scoring worker. None for an unknown incident."""
        with self.engine.begin() as conn:
            row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
            if row is None:
                return None
            incident = IncidentRecord(**row._mapping)
            changes: dict[str, Any] = {"verdict": verdict, "verdict_at": at, "verdict_note": note}
            tuning = None
            if verdict == "false_positive":
                detector = incident.explanation.get("detector")
                tuning = after_false_positive(
                    incident.device_id,
                    incident.signature,
                    incident.peak_score,
                    detector if isinstance(detector, str) else None,
                    incident.id,
                )
                effect = tuning.describe() if tuning else "hard limits are never tuned"
                changes["explanation"] = {**incident.explanation, "verdict_effect": effect}
                if incident.status in ACTIVE:
                    changes.update(status="resolved", resolved_at=at, updated_at=at)
                if tuning is not None:
                    conn.execute(
                        detector_tunings.insert().values(
                            device_id=tuning.device_id,
                            signature=tuning.signature,
                            min_score=tuning.min_score,
                            muted_detector=tuning.muted_detector,
                            incident_id=tuning.incident_id,
                            created_at=at,
                        )
                    )
            conn.execute(update(incidents).where(incidents.c.id == incident_id).values(changes))
            updated = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
        record = IncidentRecord(**updated._mapping)
        if record.status != incident.status:
            self.change_listeners.tell([_change_of(record, at)])
        return record, tuning

    def tunings_after(self, last_id: int) -> list[tuple[int, Tuning]]:
        """Tunings recorded after ``last_id``, oldest first (what a worker has not seen)."""
        query = (
            select(detector_tunings)
            .where(detector_tunings.c.id > last_id)
            .order_by(detector_tunings.c.id)
        )
        with self.engine.connect() as conn:
            return [
                (
                    int(r.id),
                    Tuning(r.device_id, r.signature, r.min_score, r.muted_detector, r.incident_id),
                )
                for r in conn.execute(query)
            ]

    def signature_stats(self) -> list[SignatureStats]:
        """Incidents and verdicts per signature, most incidents first."""
        confirmed = func.sum(case((incidents.c.verdict == "confirmed", 1), else_=0))
        false_positive = func.sum(case((incidents.c.verdict == "false_positive", 1), else_=0))
        query = (
            select(incidents.c.signature, func.count(), confirmed, false_positive)
            .group_by(incidents.c.signature)
            .order_by(func.count().desc(), incidents.c.signature)
        )
        with self.engine.connect() as conn:
            return [
                SignatureStats(str(sig), int(n), int(c or 0), int(f or 0))
                for sig, n, c, f in conn.execute(query)
            ]


def _change_of(record: IncidentRecord, at: float) -> IncidentChange:
    return IncidentChange(
        record.id,
        record.device_id,
        record.model,
        record.signature,
        record.status,
        at,
        record.peak_score,
    )
