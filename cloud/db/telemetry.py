"""Devices and telemetry: the SQL behind ingest and the API.

Writes are idempotent: a sample is keyed by (device, seq), an event by (device, event id),
a command result by (device, command id), so a redelivered or resent message never
duplicates a row. One ingest batch is one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Insert, Table, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cloud.db.records import DeadLetter, DeviceRecord, IngestBatch, StoredSample
from cloud.db.schema import (
    command_results,
    dead_letters,
    device_owners,
    devices,
    diagnostic_bundles,
    events,
    samples,
)


class TelemetryStore:
    """Devices, their telemetry and what ingest refused. Thread-safe (SQLAlchemy engine,
    one transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        if self.engine.dialect.name == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return postgresql.insert(table).on_conflict_do_nothing()

    def apply(self, batch: IngestBatch) -> list[StoredSample]:
        """Write one triaged ingest batch in one transaction; returns the samples that
        were new (a redelivery is never returned, so never scored twice)."""
        with self.engine.begin() as conn:
            self._touch_devices(conn, batch)
            new_samples = self._insert_samples(conn, batch)
            if batch.events:
                conn.execute(
                    self._insert_ignoring_duplicates(events),
                    [
                        {
                            "device_id": e.device_id,
                            "event_id": e.event_id,
                            "kind": e.kind,
                            "ts": e.ts,
                            "detail": dict(e.detail),
                        }
                        for e, _ in batch.events
                    ],
                )
            if batch.results:
                conn.execute(
                    self._insert_ignoring_duplicates(command_results),
                    [
                        {
                            "device_id": r.device_id,
                            "command_id": r.command_id,
                            "state": r.state,
                            "ts": r.ts,
                            "detail": r.detail,
                        }
                        for r, _ in batch.results
                    ],
                )
            if batch.diagnostics:
                conn.execute(
                    self._insert_ignoring_duplicates(diagnostic_bundles),
                    [
                        {
                            "device_id": b.device_id,
                            "bundle_id": b.bundle_id,
                            "request_id": b.request_id,
                            "ts": b.ts,
                            "received_at": received_at,
                            "bundle": b.model_dump(mode="json"),
                        }
                        for b, received_at in batch.diagnostics
                    ],
                )
            self._insert_dead_letters(conn, batch.dead_letters)
        return new_samples

    def _touch_devices(self, conn: Any, batch: IngestBatch) -> None:
        """Register unseen devices and update presence, model and firmware."""
        seen: dict[str, dict[str, Any]] = {}
        for message, received_at in batch.telemetry:
            entry = seen.setdefault(message.device_id, {})
            entry["last_seen"] = received_at
            entry["dropped_total"] = message.dropped_total
        for status, received_at in batch.statuses:
            entry = seen.setdefault(status.device_id, {})
            entry.update(last_seen=received_at, online=status.online)
            if status.model is not None:
                entry["model"] = status.model
            if status.firmware is not None:
                entry["firmware"] = status.firmware
        for item, received_at in [*batch.events, *batch.results, *batch.diagnostics]:
            seen.setdefault(item.device_id, {})["last_seen"] = received_at
        if not seen:
            return
        existing = set(conn.scalars(select(devices.c.id).where(devices.c.id.in_(list(seen)))))
        new_rows = [
            {
                "id": device_id,
                "model": entry.get("model"),
                "firmware": entry.get("firmware"),
                "online": entry.get("online", True),
                "first_seen": entry["last_seen"],
                "last_seen": entry["last_seen"],
                "dropped_total": entry.get("dropped_total", 0),
            }
            for device_id, entry in seen.items()
            if device_id not in existing
        ]
        if new_rows:
            conn.execute(self._insert_ignoring_duplicates(devices), new_rows)
        # one executemany per shape of update (telemetry-only, status...), not one per device
        updates: defaultdict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for device_id, entry in seen.items():
            if device_id in existing:
                params = {"b_id": device_id, **{f"b_{k}": v for k, v in entry.items()}}
                updates[tuple(sorted(entry))].append(params)
        for keys, params_list in updates.items():
            statement = (
                update(devices)
                .where(devices.c.id == bindparam("b_id"))
                .values({key: bindparam(f"b_{key}") for key in keys})
            )
            conn.execute(statement, params_list)

    def _insert_samples(self, conn: Any, batch: IngestBatch) -> list[StoredSample]:
        """Insert, ignoring (device, seq) already stored; returns the samples that were
        new, so a redelivery is never scored twice."""
        offered = [
            StoredSample(m.device_id, s.seq, s.ts, dict(s.metrics))
            for m, _ in batch.telemetry
            for s in m.samples
        ]
        if not offered:
            return []
        statement = self._insert_ignoring_duplicates(samples).returning(
            samples.c.device_id, samples.c.seq
        )
        rows = [
            {"device_id": s.device_id, "seq": s.seq, "ts": s.ts, "metrics": s.metrics}
            for s in offered
        ]
        inserted = {(r.device_id, r.seq) for r in conn.execute(statement, rows)}
        new = [s for s in offered if (s.device_id, s.seq) in inserted]
        new.sort(key=lambda s: (s.device_id, s.seq))
        return new

    def _insert_dead_letters(self, conn: Any, letters: Sequence[DeadLetter]) -> None:
        if letters:
            conn.execute(
                dead_letters.insert(),
                [
                    {
                        "received_at": d.received_at,
                        "topic": d.topic,
                        "reason": d.reason,
                        "payload_size": d.payload_size,
                        "payload_excerpt": d.payload_excerpt,
                    }
                    for d in letters
                ],
            )

    # --- device registry and ownership -------------------------------------------------

    def set_owner(self, device_id: str, owner_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(device_owners.delete().where(device_owners.c.device_id == device_id))
            conn.execute(device_owners.insert().values(device_id=device_id, owner_id=owner_id))

    def list_devices(self, owner_id: str | None = None) -> list[DeviceRecord]:
        """Every device, or only ``owner_id``'s when given."""
        query = select(devices, device_owners.c.owner_id).outerjoin(
            device_owners, device_owners.c.device_id == devices.c.id
        )
        if owner_id is not None:
            query = query.where(device_owners.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [
                DeviceRecord(**row._mapping) for row in conn.execute(query.order_by(devices.c.id))
            ]

    def get_device(self, device_id: str) -> DeviceRecord | None:
        query = (
            select(devices, device_owners.c.owner_id)
            .outerjoin(device_owners, device_owners.c.device_id == devices.c.id)
            .where(devices.c.id == device_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return DeviceRecord(**row._mapping) if row else None

    # --- telemetry reads -------------------------------------------------------------

    def telemetry(
        self,
        device_id: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[StoredSample]:
        """A device's samples within [since, until], in time order (the oldest ``limit``),
        or with ``newest_first`` the newest ``limit``, newest first."""
        conditions = [samples.c.device_id == device_id]
        if since is not None:
            conditions.append(samples.c.ts >= since)
        if until is not None:
            conditions.append(samples.c.ts <= until)
        order = (
            (samples.c.ts.desc(), samples.c.seq.desc())
            if newest_first
            else (samples.c.ts, samples.c.seq)
        )
        query = select(samples).where(and_(*conditions)).order_by(*order)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [StoredSample(r.device_id, r.seq, r.ts, r.metrics) for r in rows]

    def recent(self, device_id: str, since: float, limit: int = 1000) -> list[StoredSample]:
        """A device's newest samples since ``since`` (at most ``limit``), in time order:
        the end of the window when it holds more than ``limit``."""
        query = (
            select(samples)
            .where(samples.c.device_id == device_id, samples.c.ts >= since)
            .order_by(samples.c.ts.desc(), samples.c.seq.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [StoredSample(r.device_id, r.seq, r.ts, r.metrics) for r in reversed(rows)]
