"""What the outreach planner reads: incidents self-healing handed over, fixes verified in
the telemetry (worth a feedback question), and setup steps that stalled, each with the
device's owner. Reads only; what becomes of them is the planner's decision.

Each read takes a time watermark and returns what changed after it, oldest first, so a
planner that remembers the last time it saw plans every fact once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, select

from cloud.db.schema import device_owners, fix_attempts, incidents, support_items
from cloud.outreach.planner import EscalatedIncident, FeedbackTrigger, StuckSetup

__all__ = ["OutreachFacts"]

LIMIT = 1000
"""Facts per read at most; the watermark carries the rest to the next read."""


class OutreachFacts:
    """Thread-safe (one connection per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def escalations(self, after: float) -> list[EscalatedIncident]:
        """Incidents escalated to people since ``after`` (by their last update)."""
        query = (
            select(
                incidents.c.id,
                incidents.c.device_id,
                device_owners.c.owner_id,
                incidents.c.signature,
                incidents.c.explanation,
                incidents.c.escalation,
                incidents.c.updated_at,
            )
            .select_from(
                incidents.outerjoin(
                    device_owners, device_owners.c.device_id == incidents.c.device_id
                )
            )
            .where(incidents.c.status == "escalated", incidents.c.updated_at > after)
            .order_by(incidents.c.updated_at, incidents.c.id)
            .limit(LIMIT)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            tried = self._actions(conn, [int(r.id) for r in rows])
        return [
            EscalatedIncident(
                incident_id=int(r.id),
                device_id=r.device_id,
                owner_id=r.owner_id,
                signature=r.signature,
                summary=str((r.explanation or {}).get("summary") or f"{r.signature} found."),
                reason=r.escalation or "",
                escalated_at=float(r.updated_at),
                attempts=tuple(tried.get(int(r.id), ())),
            )
            for r in rows
        ]

    def verified_fixes(self, after: float) -> list[FeedbackTrigger]:
        """Incidents resolved since ``after`` by a fix the telemetry verified."""
        verified = (
            select(fix_attempts.c.incident_id, fix_attempts.c.action)
            .where(fix_attempts.c.verified.is_(True))
            .subquery()
        )
        query = (
            select(
                incidents.c.id,
                incidents.c.device_id,
                device_owners.c.owner_id,
                incidents.c.resolved_at,
                verified.c.action,
            )
            .select_from(
                incidents.join(verified, verified.c.incident_id == incidents.c.id).outerjoin(
                    device_owners, device_owners.c.device_id == incidents.c.device_id
                )
            )
            .where(incidents.c.status == "resolved", incidents.c.resolved_at > after)
            .order_by(incidents.c.resolved_at, incidents.c.id)
            .limit(LIMIT)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            FeedbackTrigger(
                device_id=r.device_id,
                owner_id=r.owner_id,
                kind="verified_fix",
                subject_id=int(r.id),
                at=float(r.resolved_at),
                incident_id=int(r.id),
                detail=r.action.replace("_", " "),
            )
            for r in rows
        ]

    def stuck_setups(self, after: float) -> list[StuckSetup]:
        """Setup steps that failed or stalled, opened since ``after`` and still open."""
        query = (
            select(
                support_items.c.device_id,
                device_owners.c.owner_id,
                support_items.c.step,
                support_items.c.reason,
                support_items.c.opened_at,
            )
            .select_from(
                support_items.outerjoin(
                    device_owners, device_owners.c.device_id == support_items.c.device_id
                )
            )
            .where(support_items.c.resolved_at.is_(None), support_items.c.opened_at > after)
            .order_by(support_items.c.opened_at)
            .limit(LIMIT)
        )
        with self.engine.connect() as conn:
            return [StuckSetup(*row) for row in conn.execute(query)]

    @staticmethod
    def _actions(conn: Connection, incident_ids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        if not incident_ids:
            return found
        query = (
            select(fix_attempts.c.incident_id, fix_attempts.c.action)
            .where(fix_attempts.c.incident_id.in_(incident_ids))
            .order_by(fix_attempts.c.incident_id, fix_attempts.c.number)
        )
        for incident_id, action in conn.execute(query):
            if action not in found[int(incident_id)]:
                found[int(incident_id)].append(action)
        return found
