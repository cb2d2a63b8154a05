"""Fleet models per device model: list what is deployed, train on demand (service only).

Training reads a week of fleet telemetry and fits in well under a minute, so it runs
inline in the request's worker thread (FastAPI runs sync routes in a thread pool).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from cloud.api.deps import RegistryDep, ServiceDep, TrainerDep
from cloud.api.schemas.models import ModelOut, TrainingOut
from cloud.learning import LearningError, NotEnoughHistory

router = APIRouter(prefix="/models", tags=["models"])


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
