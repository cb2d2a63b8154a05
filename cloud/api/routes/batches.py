"""Manufacturing batches: the factory's device identities, imported by the manufacturer."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from cloud.api.deps import ReposDep, ServiceDep
from cloud.api.schemas.claims import BatchImported
from cloud.db.factory import ClaimCodeInUse, DevicesAlreadyRegistered
from cloud.identity import FactoryBatch

router = APIRouter(prefix="/batches", tags=["batches"])


@router.post("", status_code=status.HTTP_201_CREATED)
def import_batch(batch: FactoryBatch, repos: ReposDep, _: ServiceDep) -> BatchImported:
    """Register a batch file as ``aftercare sim batch`` writes it (service token). The
    batch is imported whole or not at all: 409 when any of its devices (or claim codes)
    is registered already, 422 for a malformed file. Only digests of the secrets and
    claim codes are stored."""
    try:
        imported = repos.factory.import_batch(batch)
    except (DevicesAlreadyRegistered, ClaimCodeInUse) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return BatchImported(imported=imported, model=batch.model)
