"""Reading a device model's fleet history for training: the SQL edge of learning.

Why a module of its own: training reads *across* devices (every device of one model over a
window) while :class:`cloud.db.telemetry.TelemetryStore` serves per-device reads for ingest and the
API. Subsampling happens in the database (``row_number() % stride``) so a week of a large
fleet never crosses the wire in full; it runs unchanged on SQLite (≥ 3.25) and PostgreSQL.
"""

from __future__ import annotations

import math

from sqlalchemy import Engine, and_, func, select

from cloud.db.schema import devices, samples
from cloud.learning.storage import HistoryWindow

__all__ = ["FleetHistory"]


class FleetHistory:
    """Read-only, thread-safe (one connection per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def device_models(self) -> list[str]:
        """Every device model that has at least one registered device, sorted."""
        query = select(devices.c.model).where(devices.c.model.is_not(None)).distinct()
        with self.engine.connect() as conn:
            return sorted(str(m) for m in conn.scalars(query))

    def span_s(self, device_model: str, until: float) -> float:
        """How long (in sample time) the fleet of ``device_model`` has been reporting."""
        query = (
            select(func.min(samples.c.ts))
            .select_from(samples.join(devices, devices.c.id == samples.c.device_id))
            .where(devices.c.model == device_model)
        )
        with self.engine.connect() as conn:
            first = conn.scalar(query)
        return 0.0 if first is None else max(0.0, until - float(first))

    def window(
        self, device_model: str, since: float, until: float, max_samples: int
    ) -> HistoryWindow:
        """Samples of every device of ``device_model`` with ``since <= ts <= until``,
        at most ``max_samples`` of them, taken at an even stride in (device, time) order so
        every device keeps its share and its whole time span."""
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        where = and_(
            devices.c.model == device_model,
            samples.c.ts >= since,
            samples.c.ts <= until,
        )
        joined = samples.join(devices, devices.c.id == samples.c.device_id)
        counting = select(func.count()).select_from(joined).where(where)
        with self.engine.connect() as conn:
            available = int(conn.scalar(counting) or 0)
            stride = max(1, math.ceil(available / max_samples))
            numbered = (
                select(
                    samples.c.device_id,
                    samples.c.metrics,
                    func.row_number()
                    .over(order_by=(samples.c.device_id, samples.c.ts, samples.c.seq))
                    .label("rn"),
                )
                .select_from(joined)
                .where(where)
                .subquery()
            )
            query = (
                select(numbered.c.device_id, numbered.c.metrics)
                .where((numbered.c.rn - 1) % stride == 0)
                .order_by(numbered.c.rn)
                .limit(max_samples)
            )
            rows = conn.execute(query).all()
        return HistoryWindow(
            device_model=device_model,
            samples=[dict(r.metrics) for r in rows],
            device_ids=[str(r.device_id) for r in rows],
            available=available,
        )
