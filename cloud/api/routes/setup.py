"""Guided setup for owners (where their device's setup stands, ticking their own steps)
and the activation funnel and support items for the service team.

Setup is computed from what the device reported and what its owner ticked whenever it is
read; reading it also opens (and resolves) the support items it calls for."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from cloud.api.deps import OwnerIdDep, PrincipalDep, ReposDep, ServiceDep
from cloud.api.schemas.setup import FunnelOut, SetupOut, SupportItemOut
from cloud.db.setup import SetupSubject
from cloud.setup import Checklists, funnel

router = APIRouter(tags=["setup"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such device, or another owner's"}
}


def _checklists(request: Request) -> Checklists:
    checklists: Checklists = request.app.state.checklists
    return checklists


def _subject(device_id: str, repos: ReposDep, may_see: PrincipalDep) -> SetupSubject:
    """The device if the caller may see it; 404 otherwise, as every device route does.
    A claimed device that has not reported yet has a setup too (its factory record)."""
    subject = repos.setup.subject(device_id)
    if subject is None or not may_see.may_see(subject.owner_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    return subject


@router.get("/devices/{device_id}/setup", responses=NOT_FOUND)
def get_setup(
    device_id: str, repos: ReposDep, principal: PrincipalDep, request: Request
) -> SetupOut:
    """The device's setup checklist: device steps tick themselves from its self-checks,
    owner steps carry their instructions and next action; a failing or stalled step
    carries help. ``activated`` once every step is done."""
    subject = _subject(device_id, repos, principal)
    state = repos.setup.states([subject], _checklists(request))[0]
    return SetupOut.of(device_id, subject.model, state)


@router.post(
    "/devices/{device_id}/setup/{step}",
    responses={
        404: {"description": "no such device (or another owner's), or no such step"},
        409: {"description": "the device verifies this step itself"},
    },
)
def complete_step(
    device_id: str, step: str, owner_id: OwnerIdDep, repos: ReposDep, request: Request
) -> SetupOut:
    """The owner did an owner step (set preferences, registered the warranty);
    idempotent. Device steps tick themselves when the device's checks pass: 409."""
    subject = repos.setup.subject(device_id)
    if subject is None or subject.owner_id != owner_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    checklists = _checklists(request)
    found = checklists.for_model(subject.model).step(step)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"device {device_id} has no setup step {step!r}"
        )
    if found.verified_by != "owner":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"step {step!r} is verified by the device: it ticks itself when the "
            f"device's self-checks ({', '.join(found.checks)}) pass",
        )
    repos.setup.complete(device_id, owner_id, step)
    state = repos.setup.states([subject], checklists)[0]
    return SetupOut.of(device_id, subject.model, state)


@router.get("/activation/funnel")
def activation_funnel(
    repos: ReposDep,
    _: ServiceDep,
    request: Request,
    model: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    firmware: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> FunnelOut:
    """How far the devices that have reported (of ``model`` and ``firmware``, if given)
    got through setup: devices per step done, where they stopped (``drop_off``: the
    first step not done), the median time from claim to activation and the self-check
    that fails on most devices (service token)."""
    subjects = repos.setup.subjects(model, firmware)
    states = repos.setup.states(subjects, _checklists(request))
    figures = funnel(zip(states, (s.claimed_at for s in subjects), strict=True))
    return FunnelOut.of(model, firmware, figures)


@router.get("/support-items")
def list_support_items(
    repos: ReposDep,
    _: ServiceDep,
    status_: Annotated[Literal["open", "all"], Query(alias="status")] = "open",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SupportItemOut]:
    """Setup steps that failed or stalled past their ``support_after_s``, oldest first:
    who outreach should contact (service token). Opened and resolved when a device's
    setup or the funnel is read."""
    items = repos.setup.support_items(open_only=status_ == "open", limit=limit)
    return [SupportItemOut.of(item) for item in items]
