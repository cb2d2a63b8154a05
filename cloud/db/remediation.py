"""Self-healing's rows: every fix attempt of every incident, the fleet's learned fix
records, and the incident status the loop moves (mitigating, resolved, escalated).

Every step of the loop is stored as it happens, so the API shows a fix in flight, and a
service engineer sees what was tried before an incident reached them. Status moves are
told to ``change_listeners`` once committed, as :class:`IncidentStore` tells its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cloud.db.incidents import IncidentListeners
from cloud.db.records import IncidentChange
from cloud.db.schema import fix_attempts, fix_records, incidents

__all__ = ["AttemptRow", "FixCounts", "NewIncident", "RemediationStore"]


@dataclass(frozen=True)
class AttemptRow:
    command_id: str
    incident_id: int
    number: int
    device_id: str
    action: str
    params: dict[str, Any]
    sent_at: float
    result_state: str | None
    result_at: float | None
    detail: str
    verified: bool | None
    evidence_from: float | None
    evidence_to: float | None


@dataclass(frozen=True)
class FixCounts:
    model: str
    signature: str
    action: str
    successes: int
    failures: int


@dataclass(frozen=True)
class NewIncident:
    id: int
    device_id: str
    model: str | None
    signature: str
    opened_at: float


class RemediationStore:
    """Thread-safe (one transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self.change_listeners = IncidentListeners()

    def opened_after(self, last_id: int) -> list[NewIncident]:
        """Incidents opened since ``last_id`` and still open: the loop's work. An open
        incident with an escalation reason was reopened for people (its owner disputed
        the fix that closed it), not for the loop: it is left out, across restarts too."""
        query = (
            select(
                incidents.c.id,
                incidents.c.device_id,
                incidents.c.model,
                incidents.c.signature,
                incidents.c.opened_at,
            )
            .where(
                incidents.c.id > last_id,
                incidents.c.status == "open",
                incidents.c.escalation.is_(None),
            )
            .order_by(incidents.c.id)
        )
        with self.engine.connect() as conn:
            return [NewIncident(*row) for row in conn.execute(query)]

    def last_incident_id(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(select(incidents.c.id).order_by(incidents.c.id.desc())).first()
        return int(found[0]) if found else 0

    def save_attempt(self, row: AttemptRow) -> None:
        """Write an attempt as it stands now (insert, or update by command id)."""
        values = row.__dict__.copy()
        statement = self._dialect.insert(fix_attempts).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[fix_attempts.c.command_id],
            set_={k: statement.excluded[k] for k in values if k != "command_id"},
        )
        with self.engine.begin() as conn:
            conn.execute(statement)

    def attempts(self, incident_ids: Iterable[int]) -> dict[int, list[AttemptRow]]:
        """Attempts per incident, in the order they were made."""
        ids = list(incident_ids)
        found: dict[int, list[AttemptRow]] = defaultdict(list)
        if not ids:
            return found
        query = (
            select(fix_attempts)
            .where(fix_attempts.c.incident_id.in_(ids))
            .order_by(fix_attempts.c.incident_id, fix_attempts.c.number)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                found[row["incident_id"]].append(AttemptRow(**row))
        return found

    def save_counts(self, counts: Iterable[FixCounts]) -> None:
        rows = [c.__dict__.copy() for c in counts]
        if not rows:
            return
        statement = self._dialect.insert(fix_records)
        statement = statement.on_conflict_do_update(
            index_elements=[fix_records.c.model, fix_records.c.signature, fix_records.c.action],
            set_={
                "successes": statement.excluded.successes,
                "failures": statement.excluded.failures,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    def dispute(self, model: str, signature: str, action: str) -> FixCounts:
        """The owner says a fix the telemetry verified did not work: the verified success
        it was counted as becomes a failure, in one statement (another process may be
        counting the same fix). Returns the counts after it."""
        key = {"model": model, "signature": signature, "action": action}
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(fix_records)
                .where(
                    fix_records.c.model == model,
                    fix_records.c.signature == signature,
                    fix_records.c.action == action,
                )
                .values(
                    successes=case(
                        (fix_records.c.successes > 0, fix_records.c.successes - 1), else_=0
                    ),
                    failures=fix_records.c.failures + 1,
                )
            ).rowcount
            if not moved:
                statement = self._dialect.insert(fix_records).values(**key, successes=0, failures=1)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[
                            fix_records.c.model,
                            fix_records.c.signature,
                            fix_records.c.action,
                        ],
                        set_={"failures": fix_records.c.failures + 1},
                    )
                )
            row = conn.execute(
                select(fix_records).where(
                    fix_records.c.model == model,
                    fix_records.c.signature == signature,
                    fix_records.c.action == action,
                )
            ).one()
        return FixCounts(**row._mapping)

    def counts(self) -> list[FixCounts]:
        query = select(fix_records).order_by(
            fix_records.c.model, fix_records.c.signature, fix_records.c.action
        )
        with self.engine.connect() as conn:
            return [FixCounts(**row) for row in conn.execute(query).mappings()]

    def set_status(
        self, incident_id: int, status: str, at: float, escalation: str | None = None
    ) -> None:
        """Move an incident along the loop: ``mitigating`` while a fix is in flight,
        ``resolved`` once one is verified, ``escalated`` with the reason. Listeners hear
        of a move to another status (the next fix of one in flight is no change)."""
        values: dict[str, Any] = {"status": status, "updated_at": at}
        if status == "resolved":
            values["resolved_at"] = at
        if escalation is not None:
            values["escalation"] = escalation
        where = incidents.c.id == incident_id
        statement = update(incidents).where(where).values(values)
        with self.engine.begin() as conn:
            before = conn.scalar(select(incidents.c.status).where(where))
            moved = conn.execute(statement.returning(*_CHANGED)).first()
        if moved is not None and before != status:
            self.change_listeners.tell([_change(incident_id, moved, status, at)])

    def reopen(self, incident_id: int, at: float, reason: str) -> bool:
        """Open a resolved incident again (its owner says the fix did not hold); False
        when it is not resolved (still active, or closed by people)."""
        statement = (
            update(incidents)
            .where(incidents.c.id == incident_id, incidents.c.status == "resolved")
            .values(status="open", resolved_at=None, updated_at=at, escalation=reason)
        )
        with self.engine.begin() as conn:
            reopened = conn.execute(statement.returning(*_CHANGED)).first()
        if reopened is None:
            return False
        self.change_listeners.tell([_change(incident_id, reopened, "open", at)])
        return True

    def ids_with_status(self, status: str) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(incidents.c.id).where(incidents.c.status == status))
            return [int(i) for (i,) in rows]

    def statuses(self, incident_ids: Iterable[int]) -> Mapping[int, str]:
        ids = list(incident_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(incidents.c.id, incidents.c.status).where(incidents.c.id.in_(ids))
            )
            return {int(i): str(s) for i, s in rows}


_CHANGED = (incidents.c.device_id, incidents.c.model, incidents.c.signature, incidents.c.peak_score)
"""What an incident change tells listeners beyond its id, status and time."""


def _change(incident_id: int, row: Any, status: str, at: float) -> IncidentChange:
    return IncidentChange(
        incident_id, row.device_id, row.model, row.signature, status, at, row.peak_score
    )
