"""What the outreach planner reads: incidents self-healing handed over, fixes verified in
the telemetry (worth a feedback question), and setup steps that stalled, each with the
device's owner. Reads only; what becomes of them is the planner's decision.

Each read takes a time watermark and returns what changed after it, oldest first, so a
planner that remembers the last time it saw plans every fact once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Select, select

from cloud.db.schema import (
    device_owners,
    fix_attempts,
    incidents,
    outreach_items,
    outreach_outcomes,
    support_items,
    support_replies,
    support_requests,
)
from cloud.outreach.planner import EscalatedIncident, FeedbackTrigger, StuckSetup, SupportUpdate

__all__ = ["OutreachFacts"]

LIMIT = 1000
"""Facts per read at most; the watermark carries the rest to the next read."""
VISITS_DONE = ("fixed", "part_replaced")


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

    def support_updates(self, after: float) -> list[SupportUpdate]:
        """The service team's replies and resolutions since ``after``."""
        requests = support_requests.c
        replies = (
            select(
                support_replies.c.request_id,
                requests.device_id,
                requests.owner_id,
                support_replies.c.text,
                support_replies.c.at,
            )
            .select_from(
                support_replies.join(support_requests, requests.id == support_replies.c.request_id)
            )
            .where(support_replies.c.at > after, support_replies.c.author == "service")
            .order_by(support_replies.c.at)
            .limit(LIMIT)
        )
        with self.engine.connect() as conn:
            updates = [
                SupportUpdate(int(r[0]), r[1], r[2], "reply", r[3], float(r[4]))
                for r in conn.execute(replies)
            ]
            updates += [
                SupportUpdate(
                    int(r.id),
                    r.device_id,
                    r.owner_id,
                    "resolved",
                    r.resolution or "",
                    float(r.resolved_at),
                )
                for r in conn.execute(_resolved_after(after))
            ]
        return sorted(updates, key=lambda u: u.at)[:LIMIT]

    def resolved_support(self, after: float) -> list[FeedbackTrigger]:
        """Support requests resolved since ``after``: worth asking whether it helped."""
        with self.engine.connect() as conn:
            return [
                FeedbackTrigger(
                    device_id=r.device_id,
                    owner_id=r.owner_id,
                    kind="support_resolved",
                    subject_id=int(r.id),
                    at=float(r.resolved_at),
                    support_request_id=int(r.id),
                )
                for r in conn.execute(_resolved_after(after))
            ]

    def service_visits(self, after: float) -> list[FeedbackTrigger]:
        """Visits the service team recorded as done (fixed, part replaced) since ``after``."""
        query = (
            select(
                outreach_outcomes.c.item_id,
                outreach_items.c.device_id,
                outreach_items.c.owner_id,
                outreach_outcomes.c.outcome,
                outreach_outcomes.c.at,
                outreach_items.c.incident_id,
            )
            .select_from(
                outreach_outcomes.join(
                    outreach_items, outreach_items.c.id == outreach_outcomes.c.item_id
                )
            )
            .where(
                outreach_outcomes.c.at > after,
                outreach_outcomes.c.outcome.in_(VISITS_DONE),
            )
            .order_by(outreach_outcomes.c.at)
            .limit(LIMIT)
        )
        with self.engine.connect() as conn:
            return [
                FeedbackTrigger(
                    device_id=r.device_id,
                    owner_id=r.owner_id,
                    kind="service_visit",
                    subject_id=int(r.item_id),
                    at=float(r.at),
                    incident_id=r.incident_id,
                    detail=str(r.outcome).replace("_", " "),
                )
                for r in conn.execute(query)
            ]

    def owners_of(self, device_ids: Sequence[str]) -> dict[str, str]:
        """The owner of each of ``device_ids`` that has one."""
        found: dict[str, str] = {}
        ids = list(device_ids)
        with self.engine.connect() as conn:
            for start in range(0, len(ids), LIMIT):
                query = select(device_owners.c.device_id, device_owners.c.owner_id).where(
                    device_owners.c.device_id.in_(ids[start : start + LIMIT])
                )
                found.update({str(d): str(o) for d, o in conn.execute(query)})
        return found

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


def _resolved_after(after: float) -> Select[Any]:
    """Support requests resolved after ``after``, oldest first, at most ``LIMIT``."""
    requests = support_requests.c
    return (
        select(
            requests.id,
            requests.device_id,
            requests.owner_id,
            requests.resolution,
            requests.resolved_at,
        )
        .where(requests.resolved_at > after)
        .order_by(requests.resolved_at)
        .limit(LIMIT)
    )
