"""Support requests, their replies and the diagnostic bundles devices sent for them.

Every change is one transaction, and every state change is conditional on the state it
expects (``WHERE status = 'collecting'``, ``resolved_at IS NULL``), so the API and the
support worker never overwrite each other: a reply racing a resolution, or a late bundle
racing the fallback, ends in one consistent state. Thread-safe (one engine).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select, update

from cloud.db.schema import command_results, diagnostic_bundles, support_replies, support_requests

__all__ = ["ReplyRow", "SupportConflict", "SupportRequestRow", "SupportStore"]

QUEUE = ("open", "answered", "escalated")
"""Statuses the service team works on (``collecting`` is not in the queue yet)."""


class SupportConflict(Exception):
    """The request is in no state for this (resolved already, still collecting)."""


@dataclass(frozen=True)
class ReplyRow:
    at: float
    author: str
    text: str


@dataclass(frozen=True)
class SupportRequestRow:
    id: int
    device_id: str
    owner_id: str | None
    filed_by: str
    category: str
    description: str
    status: str
    created_at: float
    updated_at: float
    first_response_due: float
    resolution_due: float
    first_response_at: float | None
    resolved_at: float | None
    resolution: str | None
    escalated_at: float | None
    escalation: str | None
    command_id: str | None
    command_sent_at: float | None
    bundle_id: str | None
    cloud_summary: dict[str, Any] | None
    diagnostics_note: str | None
    diagnostics_at: float | None


class SupportStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- filing and reading -----------------------------------------------------------

    def file(
        self,
        *,
        device_id: str,
        owner_id: str | None,
        filed_by: str,
        category: str,
        description: str,
        now: float,
        due: tuple[float, float],
    ) -> SupportRequestRow:
        """A new request, collecting its diagnostics."""
        values = {
            "device_id": device_id,
            "owner_id": owner_id,
            "filed_by": filed_by,
            "category": category,
            "description": description,
            "status": "collecting",
            "created_at": now,
            "updated_at": now,
            "first_response_due": due[0],
            "resolution_due": due[1],
        }
        with self.engine.begin() as conn:
            request_id = conn.execute(
                support_requests.insert().values(values).returning(support_requests.c.id)
            ).scalar_one()
        found = self.get(int(request_id))
        if found is None:
            raise RuntimeError(f"support request {request_id} vanished after filing")
        return found

    def get(self, request_id: int) -> SupportRequestRow | None:
        query = select(support_requests).where(support_requests.c.id == request_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return SupportRequestRow(**row) if row else None

    def find(
        self,
        *,
        statuses: Iterable[str] | None = None,
        device_ids: Iterable[str] | None = None,
        limit: int = 500,
    ) -> list[SupportRequestRow]:
        """Newest first; ``device_ids`` restricts to an owner's devices."""
        conditions = []
        if statuses is not None:
            conditions.append(support_requests.c.status.in_(list(statuses)))
        if device_ids is not None:
            conditions.append(support_requests.c.device_id.in_(sorted(device_ids)))
        query = (
            select(support_requests)
            .where(and_(True, *conditions))
            .order_by(support_requests.c.created_at.desc(), support_requests.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [SupportRequestRow(**row) for row in conn.execute(query).mappings()]

    def replies(self, request_ids: Iterable[int]) -> dict[int, list[ReplyRow]]:
        ids = list(request_ids)
        found: dict[int, list[ReplyRow]] = defaultdict(list)
        if not ids:
            return found
        query = (
            select(support_replies)
            .where(support_replies.c.request_id.in_(ids))
            .order_by(support_replies.c.request_id, support_replies.c.id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found[row.request_id].append(ReplyRow(row.at, row.author, row.text))
        return found

    # --- the service team's answers ---------------------------------------------------

    def reply(self, request_id: int, text: str, at: float) -> SupportRequestRow | None:
        """Add a service reply; the first sets ``first_response_at`` and moves an open
        request to ``answered`` (an escalated one stays escalated). None for no request;
        SupportConflict when it is resolved or still collecting."""
        with self.engine.begin() as conn:
            row = self._locked(conn, request_id)
            if row is None:
                return None
            self._check_workable(row)
            conn.execute(
                support_replies.insert().values(
                    request_id=request_id, at=at, author="service", text=text
                )
            )
            values: dict[str, Any] = {"updated_at": at}
            if row["first_response_at"] is None:
                values["first_response_at"] = at
            if row["status"] == "open":
                values["status"] = "answered"
            conn.execute(
                update(support_requests).where(support_requests.c.id == request_id).values(values)
            )
        return self.get(request_id)

    def resolve(self, request_id: int, text: str, at: float) -> SupportRequestRow | None:
        """Close with a resolution (which is a response too, if none came before)."""
        with self.engine.begin() as conn:
            row = self._locked(conn, request_id)
            if row is None:
                return None
            self._check_workable(row)
            values: dict[str, Any] = {
                "status": "resolved",
                "resolved_at": at,
                "resolution": text,
                "updated_at": at,
            }
            if row["first_response_at"] is None:
                values["first_response_at"] = at
            conn.execute(
                update(support_requests).where(support_requests.c.id == request_id).values(values)
            )
        return self.get(request_id)

    def _locked(self, conn: Any, request_id: int) -> Any:
        query = select(support_requests).where(support_requests.c.id == request_id)
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    @staticmethod
    def _check_workable(row: Any) -> None:
        if row["status"] == "resolved":
            raise SupportConflict(f"support request {row['id']} is resolved already")
        if row["status"] == "collecting":
            raise SupportConflict(
                f"support request {row['id']} is still collecting its diagnostics"
            )

    # --- diagnostics (the support worker) ---------------------------------------------

    def collecting(self) -> list[SupportRequestRow]:
        return self.find(statuses=["collecting"], limit=1000)

    def awaiting_late_bundle(self) -> list[SupportRequestRow]:
        """Queued requests that fell back to the cloud's summary after asking their
        device: a bundle arriving late is still attached."""
        query = select(support_requests).where(
            support_requests.c.status.in_(QUEUE),
            support_requests.c.command_id.is_not(None),
            support_requests.c.bundle_id.is_(None),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(1000)).mappings()
            return [SupportRequestRow(**row) for row in rows]

    def unresolved(self) -> list[SupportRequestRow]:
        return self.find(statuses=QUEUE, limit=10_000)

    def command_sent(self, request_id: int, command_id: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(support_requests)
                .where(support_requests.c.id == request_id)
                .values(command_id=command_id, command_sent_at=at, updated_at=at)
            )

    def command_result(self, device_id: str, command_id: str) -> tuple[str, str] | None:
        query = select(command_results.c.state, command_results.c.detail).where(
            command_results.c.device_id == device_id,
            command_results.c.command_id == command_id,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.state, row.detail) if row else None

    def arrived_bundle(self, request: SupportRequestRow) -> str | None:
        """The id of the first bundle the request's own device sent for it."""
        query = (
            select(diagnostic_bundles.c.bundle_id)
            .where(
                diagnostic_bundles.c.request_id == str(request.id),
                diagnostic_bundles.c.device_id == request.device_id,
            )
            .order_by(diagnostic_bundles.c.received_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return str(found) if found is not None else None

    def bundle(self, device_id: str, bundle_id: str) -> dict[str, Any] | None:
        query = select(diagnostic_bundles.c.bundle).where(
            diagnostic_bundles.c.device_id == device_id,
            diagnostic_bundles.c.bundle_id == bundle_id,
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return dict(found) if found is not None else None

    def attach_bundle(self, request_id: int, bundle_id: str, at: float, note: str | None) -> bool:
        """Attach the device's bundle; a collecting request joins the queue. False when
        a bundle is attached already."""
        with self.engine.begin() as conn:
            row = self._locked(conn, request_id)
            if row is None or row["bundle_id"] is not None:
                return False
            values: dict[str, Any] = {"bundle_id": bundle_id, "updated_at": at}
            if row["status"] == "collecting":
                values.update(status="open", diagnostics_at=at, diagnostics_note=note)
            elif note:
                values["diagnostics_note"] = f"{row['diagnostics_note'] or ''} {note}".strip()
            conn.execute(
                update(support_requests).where(support_requests.c.id == request_id).values(values)
            )
        return True

    def attach_summary(
        self, request_id: int, summary: dict[str, Any], note: str, at: float
    ) -> bool:
        """The cloud's own summary instead of a bundle; the request joins the queue.
        False when it is no longer collecting (a bundle won the race)."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(support_requests)
                .where(
                    support_requests.c.id == request_id,
                    support_requests.c.status == "collecting",
                )
                .values(
                    status="open",
                    cloud_summary=summary,
                    diagnostics_note=note,
                    diagnostics_at=at,
                    updated_at=at,
                )
            ).rowcount
        return bool(changed)

    def escalate(self, request_id: int, reasons: list[str], at: float) -> bool:
        """Escalate for ``reasons`` (added to any earlier ones); False when it was
        resolved meanwhile."""
        with self.engine.begin() as conn:
            row = self._locked(conn, request_id)
            if row is None or row["status"] in ("resolved", "collecting"):
                return False
            earlier = row["escalation"]
            text = "; ".join([earlier, *reasons] if earlier else reasons)
            conn.execute(
                update(support_requests)
                .where(support_requests.c.id == request_id)
                .values(
                    status="escalated",
                    escalation=text,
                    escalated_at=row["escalated_at"] or at,
                    updated_at=at,
                )
            )
        return True
