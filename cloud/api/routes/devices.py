"""Devices and their telemetry, as the service team (whole fleet) or an owner sees them;
releasing a device from its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from cloud.api.deps import (
    BrokerAccountsDep,
    PrincipalDep,
    ReposDep,
    ServiceDep,
    StoreDep,
    VisibleDeviceDep,
)
from cloud.api.schemas.claims import ReleaseOut
from cloud.api.schemas.devices import DeviceOut, TelemetryBucket, TelemetryOut
from cloud.api.schemas.tags import TagsIn, TagsOut
from cloud.db.claims import NotClaimed
from cloud.timeseries import BUCKET_PATTERN, bucket_seconds, downsample

router = APIRouter(prefix="/devices", tags=["devices"])

MAX_BUCKETED_SAMPLES = 500_000
"""Raw samples read for one downsampled request: a year of one-minute samples."""


@router.get("")
def list_devices(store: StoreDep, principal: PrincipalDep) -> list[DeviceOut]:
    owner = None if principal.role == "service" else principal.owner_id
    return [DeviceOut.of(d) for d in store.list_devices(owner_id=owner)]


@router.get("/{device_id}")
def get_device(device: VisibleDeviceDep) -> DeviceOut:
    return DeviceOut.of(device)


@router.get("/{device_id}/tags")
def get_tags(device: VisibleDeviceDep, repos: ReposDep) -> TagsOut:
    return TagsOut(device_id=device.id, tags=repos.tags.tags_of(device.id))


@router.put("/{device_id}/tags")
def set_tags(device: VisibleDeviceDep, body: TagsIn, repos: ReposDep, _: ServiceDep) -> TagsOut:
    """Replace the device's tags (service team): campaigns select cohorts by them."""
    return TagsOut(device_id=device.id, tags=repos.tags.set_tags(device.id, body.tags))


@router.get("/{device_id}/telemetry")
def get_telemetry(
    device: VisibleDeviceDep,
    store: StoreDep,
    metric: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    order: Annotated[
        Literal["asc", "desc"], Query(description="desc: the newest first (and the newest limit)")
    ] = "asc",
    bucket: Annotated[
        str | None,
        Query(
            pattern=BUCKET_PATTERN,
            description="downsample to buckets of this width (30s, 5m, 1h, 1d): min, mean "
            "and max of each metric per bucket; limit then counts buckets, and without "
            "since the window is the last limit buckets before until (or the newest sample)",
        ),
    ] = None,
) -> TelemetryOut:
    """Samples in time order (``order=desc``: newest first); with ``metric``, only samples
    that carry it."""
    if since is not None and until is not None and until < since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="until is before since")
    start = since.timestamp() if since else None
    end = until.timestamp() if until else None
    if bucket is None:
        rows = store.telemetry(
            device.id, since=start, until=end, limit=limit, newest_first=order == "desc"
        )
        return TelemetryOut.of(device.id, metric, rows)
    width = bucket_seconds(bucket)
    if start is None:
        newest = store.telemetry(device.id, until=end, limit=1, newest_first=True)
        if not newest:
            return TelemetryOut(device_id=device.id, metric=metric, points=[], bucket_s=width)
        start = (end if end is not None else newest[0].ts) - limit * width
    rows = store.telemetry(device.id, since=start, until=end, limit=MAX_BUCKETED_SAMPLES)
    buckets = downsample(rows, width, metric)
    buckets = buckets[::-1][:limit] if order == "desc" else buckets[:limit]
    return TelemetryOut(
        device_id=device.id,
        metric=metric,
        points=[],
        bucket_s=width,
        buckets=[TelemetryBucket.of(b) for b in buckets],
    )


@router.delete(
    "/{device_id}/owner",
    responses={
        404: {"description": "no such device, or another owner's"},
        409: {"description": "the device has no owner, or no factory identity to rotate"},
        503: {"description": "the broker could not revoke its credentials; nothing changed"},
    },
)
def release_device(
    device_id: str, principal: PrincipalDep, repos: ReposDep, broker: BrokerAccountsDep
) -> ReleaseOut:
    """Release a device on resale (its owner, or service): the owner link goes, the
    device's credentials are rotated and the new secret is returned in this response
    only, to re-provision the device with (the old one stops verifying). The claim code
    on the box stays valid for the next owner and is never shown. Incidents and
    telemetry stay with the device as its product history.

    When the cloud manages the broker, the device's broker client is deleted first, so
    its current MQTT credentials stop working and its sessions are cut: a broker that
    cannot do that answers 503 before anything changed, and the call can be repeated
    (revoking is idempotent). Revoking before the database commit means a release that
    then fails (another caller released it meanwhile) has still only revoked a device
    that was being released anyway."""
    owner = repos.claims.owner_of(device_id)
    exists = (
        owner is not None
        or repos.factory.is_known(device_id)
        or repos.telemetry.get_device(device_id) is not None
    )
    if not exists or not principal.may_see(owner):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    if owner is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"device {device_id} has no owner")
    if broker is not None:
        try:
            broker.revoke_device(device_id)
        except RuntimeError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"the broker could not revoke {device_id}'s credentials "
                f"({type(exc).__name__}: {exc}); nothing changed, try again",
            ) from None
    try:
        released = repos.claims.release(device_id)
    except (NotClaimed, LookupError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return ReleaseOut(
        device_id=device_id,
        device_secret=released.credentials.device_secret,
        credentials_version=released.credentials.credentials_version,
    )
