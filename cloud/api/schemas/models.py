"""Fleet models and training runs, as the API returns them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cloud.api.schemas.common import to_datetime
from cloud.learning import ModelInfo, TrainingReport


class ModelOut(BaseModel):
    device_model: str
    version: int
    trained_at: datetime
    n_samples: int
    n_devices: int
    metrics: list[str]
    thresholds: dict[str, float]
    sha256: str

    @classmethod
    def of(cls, info: ModelInfo) -> ModelOut:
        return cls(
            device_model=info.device_model,
            version=info.version,
            trained_at=to_datetime(info.trained_at),
            n_samples=info.n_samples,
            n_devices=info.n_devices,
            metrics=info.metrics,
            thresholds=info.thresholds,
            sha256=info.sha256,
        )


class TrainingOut(BaseModel):
    device_model: str
    version: int
    samples: int
    devices: int
    available_samples: int
    seconds: float
    trained_at: datetime
    metrics: list[str]
    thresholds: dict[str, float]

    @classmethod
    def of(cls, report: TrainingReport) -> TrainingOut:
        return cls(
            device_model=report.device_model,
            version=report.version,
            samples=report.samples,
            devices=report.devices,
            available_samples=report.available,
            seconds=round(report.seconds, 3),
            trained_at=to_datetime(report.trained_at),
            metrics=report.metrics,
            thresholds=report.thresholds,
        )
