"""Fleet-wide counts for the service dashboard, each one aggregate query: devices and how
many are online per model, unresolved incidents per signature and model, and per time
bucket the incidents opened and the devices that reported.

The reporting count reads the window's samples (grouped in the database, never fetched):
fine for a day or a week of a fleet of thousands; a far larger fleet would read it from
its time-series store instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Engine, Integer, case, cast, func, select

from cloud.db.schema import devices, incidents, samples

UNRESOLVED = ("open", "mitigating", "escalated")
"""Incidents that still need the fleet's or the team's attention."""


@dataclass(frozen=True)
class ModelCount:
    model: str | None
    devices: int
    online: int


@dataclass(frozen=True)
class IncidentCount:
    signature: str
    model: str | None
    status: str
    incidents: int


class FleetSummaryStore:
    """Read-only aggregates over devices, incidents and samples."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _bucket(self, column: Any, width_s: float) -> ColumnElement[int]:
        """``floor(column / width_s)``: SQLite's CAST truncates, which is the floor for
        the positive epoch times stored; PostgreSQL's CAST rounds, so floor first."""
        ratio = column / width_s
        if self._postgres:
            return cast(func.floor(ratio), BigInteger)
        return cast(ratio, Integer)

    def models(self) -> list[ModelCount]:
        online = func.sum(case((devices.c.online, 1), else_=0))
        query = (
            select(devices.c.model, func.count().label("n"), online.label("online"))
            .group_by(devices.c.model)
            .order_by(devices.c.model)
        )
        with self.engine.connect() as conn:
            return [ModelCount(r.model, int(r.n), int(r.online or 0)) for r in conn.execute(query)]

    def unresolved_incidents(self) -> list[IncidentCount]:
        query = (
            select(incidents.c.signature, incidents.c.model, incidents.c.status, func.count())
            .where(incidents.c.status.in_(UNRESOLVED))
            .group_by(incidents.c.signature, incidents.c.model, incidents.c.status)
        )
        with self.engine.connect() as conn:
            return [IncidentCount(r[0], r[1], r[2], int(r[3])) for r in conn.execute(query)]

    def opened_per_bucket(self, since: float, width_s: float) -> dict[int, int]:
        """Incidents opened at or after ``since``, by bucket number."""
        bucket = self._bucket(incidents.c.opened_at, width_s).label("bucket")
        query = select(bucket, func.count()).where(incidents.c.opened_at >= since).group_by(bucket)
        with self.engine.connect() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(query)}

    def reporting_per_bucket(self, since: float, width_s: float) -> dict[int, int]:
        """Distinct devices with a sample at or after ``since``, by bucket number."""
        bucket = self._bucket(samples.c.ts, width_s).label("bucket")
        query = (
            select(bucket, func.count(func.distinct(samples.c.device_id)))
            .where(samples.c.ts >= since)
            .group_by(bucket)
        )
        with self.engine.connect() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(query)}
