"""Support requests: owners file them for their own devices and read their replies; the
service team works the queue (requests with their diagnostics attached), replies and
resolves, against SLA clocks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from cloud.api.deps import PrincipalDep, ReposDep, ServiceDep
from cloud.api.schemas.support import (
    SupportAnswerIn,
    SupportRequestDetailOut,
    SupportRequestIn,
    SupportRequestOut,
)
from cloud.db.records import DeviceRecord
from cloud.db.support import QUEUE, SupportConflict, SupportRequestRow
from cloud.db.tokens import Principal
from cloud.support.sla import SlaPolicy, Status

router = APIRouter(prefix="/support", tags=["support"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such request, or another owner's"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"description": "resolved already, or still collecting its diagnostics"},
}


def _policy(request: Request) -> SlaPolicy:
    policy: SlaPolicy = request.app.state.sla
    return policy


def _filed_device(body: SupportRequestIn, repos: ReposDep, principal: PrincipalDep) -> DeviceRecord:
    device = repos.telemetry.get_device(body.device_id)
    if device is None or not principal.may_see(device.owner_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {body.device_id!r}")
    return device


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "no such device, or another owner's"}},
)
def file_request(
    body: SupportRequestIn,
    repos: ReposDep,
    principal: PrincipalDep,
    device: Annotated[DeviceRecord, Depends(_filed_device)],
    policy: Annotated[SlaPolicy, Depends(_policy)],
) -> SupportRequestOut:
    """File a problem for a device (an owner's own, or any for the service team). The
    cloud asks the device for a diagnostic bundle (a signed command); the request joins
    the service queue once the bundle, or the cloud's own summary, is attached."""
    now = repos.clock.now()
    row = repos.support.file(
        device_id=device.id,
        owner_id=device.owner_id,
        filed_by=principal.role,
        category=body.category,
        description=body.description,
        now=now,
        due=policy.due(body.category, now),
    )
    return SupportRequestOut.of(row, [], now, principal.role == "service")


@router.get("")
def list_requests(
    repos: ReposDep,
    principal: PrincipalDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SupportRequestOut]:
    """Owners: their devices' requests. Service team: the queue (requests with their
    diagnostics attached), with SLA due times and overdue flags."""
    service = principal.role == "service"
    statuses: tuple[str, ...] | None = (status_,) if status_ else None
    if service and statuses is None:
        statuses = (*QUEUE, "resolved")
    elif service and status_ == "collecting":
        statuses = ()  # not in the queue until its diagnostics are attached
    rows = repos.support.find(
        statuses=statuses, device_ids=_own_devices(repos, principal), limit=limit
    )
    replies = repos.support.replies(r.id for r in rows)
    now = repos.clock.now()
    return [SupportRequestOut.of(r, replies.get(r.id, []), now, service) for r in rows]


def _own_devices(repos: ReposDep, principal: Principal) -> list[str] | None:
    if principal.role == "service":
        return None
    return [d.id for d in repos.telemetry.list_devices(owner_id=principal.owner_id)]


def _visible_request(
    request_id: int, repos: ReposDep, principal: PrincipalDep
) -> SupportRequestRow:
    row = repos.support.get(request_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no support request {request_id}")
    own = _own_devices(repos, principal)
    if own is not None and row.device_id not in own:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no support request {request_id}")
    return row


VisibleRequestDep = Annotated[SupportRequestRow, Depends(_visible_request)]


@router.get("/{request_id}", responses=NOT_FOUND)
def get_request(
    row: VisibleRequestDep, repos: ReposDep, principal: PrincipalDep
) -> SupportRequestDetailOut:
    """One request with its replies; the service team also gets its diagnostics."""
    service = principal.role == "service"
    summary = SupportRequestOut.of(
        row, repos.support.replies([row.id]).get(row.id, []), repos.clock.now(), service
    )
    detail = SupportRequestDetailOut(**summary.model_dump())
    if service:
        if row.bundle_id is not None:
            detail.bundle = repos.support.bundle(row.device_id, row.bundle_id)
        detail.cloud_summary = row.cloud_summary
    return detail


def _answer(
    kind: Literal["reply", "resolve"],
    row: SupportRequestRow,
    body: SupportAnswerIn,
    repos: ReposDep,
) -> SupportRequestOut:
    now = repos.clock.now()
    act = repos.support.reply if kind == "reply" else repos.support.resolve
    try:
        changed = act(row.id, body.text, now)
    except SupportConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if changed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no support request {row.id}")
    return SupportRequestOut.of(changed, repos.support.replies([row.id]).get(row.id, []), now, True)


@router.post("/{request_id}/reply", responses=CONFLICT)
def reply(
    row: VisibleRequestDep, body: SupportAnswerIn, repos: ReposDep, _: ServiceDep
) -> SupportRequestOut:
    """A service reply to the owner; the first one stops the first-response clock."""
    return _answer("reply", row, body, repos)


@router.post("/{request_id}/resolve", responses=CONFLICT)
def resolve(
    row: VisibleRequestDep, body: SupportAnswerIn, repos: ReposDep, _: ServiceDep
) -> SupportRequestOut:
    """Close the request with its resolution; this stops the resolution clock."""
    return _answer("resolve", row, body, repos)
