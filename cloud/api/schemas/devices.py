"""Devices and their telemetry, as the API returns them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cloud.api.schemas.common import to_datetime
from cloud.db.records import DeviceRecord, StoredSample
from cloud.timeseries import Bucket


class DeviceOut(BaseModel):
    id: str
    model: str | None
    firmware: str | None
    online: bool
    first_seen: datetime
    last_seen: datetime
    dropped_samples: int

    @classmethod
    def of(cls, device: DeviceRecord) -> DeviceOut:
        return cls(
            id=device.id,
            model=device.model,
            firmware=device.firmware,
            online=device.online,
            first_seen=to_datetime(device.first_seen),
            last_seen=to_datetime(device.last_seen),
            dropped_samples=device.dropped_total,
        )


class TelemetryPoint(BaseModel):
    seq: int
    ts: datetime
    metrics: dict[str, float]


class MetricStat(BaseModel):
    min: float
    mean: float
    max: float


class TelemetryBucket(BaseModel):
    """``count`` samples from ``start`` to ``start`` plus the bucket width."""

    start: datetime
    count: int
    metrics: dict[str, MetricStat]

    @classmethod
    def of(cls, bucket: Bucket) -> TelemetryBucket:
        return cls(
            start=to_datetime(bucket.start),
            count=bucket.count,
            metrics={
                name: MetricStat(min=s.min, mean=s.mean, max=s.max)
                for name, s in bucket.metrics.items()
            },
        )


class TelemetryOut(BaseModel):
    device_id: str
    metric: str | None
    points: list[TelemetryPoint]
    bucket_s: float | None = None
    """With ``bucket``: its width, and ``buckets`` instead of ``points``."""
    buckets: list[TelemetryBucket] = []

    @classmethod
    def of(cls, device_id: str, metric: str | None, rows: list[StoredSample]) -> TelemetryOut:
        points = []
        for row in rows:
            metrics = row.metrics
            if metric is not None:
                if metric not in metrics:
                    continue
                metrics = {metric: metrics[metric]}
            points.append(TelemetryPoint(seq=row.seq, ts=to_datetime(row.ts), metrics=metrics))
        return cls(device_id=device_id, metric=metric, points=points)
