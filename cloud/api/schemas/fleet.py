"""The fleet at a glance, as the service dashboard reads it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cloud.api.schemas.common import to_datetime
from cloud.db.fleet_summary import IncidentCount, ModelCount
from cloud.fleet.trend import TrendPoint


class ModelHealthOut(BaseModel):
    model: str | None
    devices: int
    online: int
    unresolved_incidents: int


class SignatureCountOut(BaseModel):
    signature: str
    unresolved: int
    """Open, being fixed (mitigating) or escalated."""
    open: int
    mitigating: int
    escalated: int


class TrendPointOut(BaseModel):
    start: datetime
    opened: int
    """Incidents opened within the bucket."""
    reporting: int
    """Devices that sent telemetry within the bucket (online then)."""

    @classmethod
    def of(cls, point: TrendPoint) -> TrendPointOut:
        return cls(start=to_datetime(point.start), opened=point.opened, reporting=point.reporting)


class FleetSummaryOut(BaseModel):
    now: datetime
    """The service's clock (device time: the demo runs it faster than the wall clock)."""
    clock_speed: float
    """How many seconds of the service's clock pass per real second (1 in production),
    so a page can keep its countdowns in step without asking again."""
    devices: int
    online: int
    offline: int
    unresolved_incidents: int
    models: list[ModelHealthOut]
    signatures: list[SignatureCountOut]
    """Most unresolved first."""
    span_s: float
    bucket_s: float
    trend: list[TrendPointOut]
    """Oldest first; the last bucket is still filling."""

    @classmethod
    def of(
        cls,
        now: float,
        clock_speed: float,
        models: list[ModelCount],
        incidents: list[IncidentCount],
        span_s: float,
        bucket_s: float,
        trend: list[TrendPoint],
    ) -> FleetSummaryOut:
        per_model: dict[str | None, int] = {}
        per_signature: dict[str, dict[str, int]] = {}
        for count in incidents:
            per_model[count.model] = per_model.get(count.model, 0) + count.incidents
            statuses = per_signature.setdefault(count.signature, {})
            statuses[count.status] = statuses.get(count.status, 0) + count.incidents
        known = {m.model for m in models}
        rows = [
            ModelHealthOut(
                model=m.model,
                devices=m.devices,
                online=m.online,
                unresolved_incidents=per_model.get(m.model, 0),
            )
            for m in models
        ] + [  # incidents of devices no longer registered still count
            ModelHealthOut(model=model, devices=0, online=0, unresolved_incidents=n)
            for model, n in per_model.items()
            if model not in known
        ]
        signatures = [
            SignatureCountOut(
                signature=signature,
                unresolved=sum(statuses.values()),
                open=statuses.get("open", 0),
                mitigating=statuses.get("mitigating", 0),
                escalated=statuses.get("escalated", 0),
            )
            for signature, statuses in per_signature.items()
        ]
        signatures.sort(key=lambda s: (-s.unresolved, s.signature))
        total = sum(m.devices for m in models)
        online = sum(m.online for m in models)
        return cls(
            now=to_datetime(now),
            clock_speed=clock_speed,
            devices=total,
            online=online,
            offline=total - online,
            unresolved_incidents=sum(c.incidents for c in incidents),
            models=rows,
            signatures=signatures,
            span_s=span_s,
            bucket_s=bucket_s,
            trend=[TrendPointOut.of(p) for p in trend],
        )
