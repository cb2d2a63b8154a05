"""Devices and their telemetry, as the service team (whole fleet) or an owner sees them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from cloud.api.deps import PrincipalDep, StoreDep, VisibleDeviceDep
from cloud.api.schemas.devices import DeviceOut, TelemetryOut

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("")
def list_devices(store: StoreDep, principal: PrincipalDep) -> list[DeviceOut]:
    owner = None if principal.role == "service" else principal.owner_id
    return [DeviceOut.of(d) for d in store.list_devices(owner_id=owner)]


@router.get("/{device_id}")
def get_device(device: VisibleDeviceDep) -> DeviceOut:
    return DeviceOut.of(device)


@router.get("/{device_id}/telemetry")
def get_telemetry(
    device: VisibleDeviceDep,
    store: StoreDep,
    metric: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> TelemetryOut:
    """Samples in time order; with ``metric``, only samples that carry it."""
    if since is not None and until is not None and until < since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="until is before since")
    rows = store.telemetry(
        device.id,
        since=since.timestamp() if since else None,
        until=until.timestamp() if until else None,
        limit=limit,
    )
    return TelemetryOut.of(device.id, metric, rows)
