"""Fleet models per device model: list what is deployed, train on demand (service only).

Training reads a week of fleet telemetry and fits in well under a minute, so it runs
inline in the request's worker thread (FastAPI runs sync routes in a thread pool).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel

from cloud.api.deps import PrincipalDep
from cloud.api.schemas import to_datetime
from cloud.auth import Principal
from cloud.learning import (
    LearningError,
    ModelInfo,
    ModelRegistry,
    NotEnoughHistory,
    Trainer,
    TrainingReport,
)

router = APIRouter(prefix="/models", tags=["models"])


def service_only(principal: PrincipalDep) -> Principal:
    """Fleet models describe the whole fleet: owners may not see or train them."""
    if principal.role != "service":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a service token is required")
    return principal


def get_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry | None = getattr(request.app.state, "model_registry", None)
    if registry is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="fleet models are not configured"
        )
    return registry


def get_trainer(request: Request) -> Trainer:
    trainer: Trainer | None = getattr(request.app.state, "model_trainer", None)
    if trainer is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="model training is not configured"
        )
    return trainer


ServiceDep = Annotated[Principal, Depends(service_only)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
TrainerDep = Annotated[Trainer, Depends(get_trainer)]


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


@router.get("")
def list_models(_: ServiceDep, registry: RegistryDep) -> list[ModelOut]:
    """The latest version of every device model's fleet model."""
    return [ModelOut.of(info) for info in registry.list_latest()]


@router.get("/{device_model}")
def list_versions(device_model: str, _: ServiceDep, registry: RegistryDep) -> list[ModelOut]:
    """Every stored version of one device model's fleet model, oldest first."""
    versions = registry.versions(device_model)
    if not versions:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no fleet model for {device_model!r}"
        )
    return [ModelOut.of(info) for info in versions]


@router.post("/{device_model}/train", status_code=status.HTTP_201_CREATED)
def train_model(device_model: str, _: ServiceDep, trainer: TrainerDep) -> TrainingOut:
    """Train the next version now from the stored history of ``device_model``.

    409 with "not enough history: ..." on cold start (no model is stored then).
    """
    try:
        return TrainingOut.of(trainer.train(device_model))
    except NotEnoughHistory as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except LearningError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, detail=str(exc)) from None
