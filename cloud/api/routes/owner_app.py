"""What the owner app reads beyond the shared resources: the owner's devices (those
claimed but never switched on too) and each device's health in plain words, built by
the pure :mod:`cloud.plain` from its incidents, fixes, outreach and setup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from cloud.api.deps import OwnerIdDep, PrincipalDep, ReposDep
from cloud.api.schemas.owner_app import HealthOut, MyDeviceOut
from cloud.db.incidents import IncidentFilter
from cloud.db.outreach import OutreachItem
from cloud.db.records import DeviceRecord
from cloud.db.remediation import AttemptRow
from cloud.db.repositories import Repositories
from cloud.db.setup import SetupSubject
from cloud.plain import (
    DeviceFacts,
    FixFacts,
    IncidentFacts,
    OutreachFacts,
    SetupProblem,
    health_story,
)
from cloud.setup import Checklists

router = APIRouter(tags=["owner app"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such device, or another owner's"}
}
RECENT_INCIDENTS = 20
"""The story tells at most a handful of events; this many incidents are plenty."""


@router.get("/owners/me/devices")
def my_devices(repos: ReposDep, owner_id: OwnerIdDep) -> list[MyDeviceOut]:
    """The owner's claimed devices by id, with those still in their box (``reported``
    false): ``GET /devices`` lists only devices that have been in touch."""
    subjects = repos.setup.owned(owner_id)
    reported = {d.id: d for d in repos.telemetry.list_devices(owner_id=owner_id)}
    return [MyDeviceOut.of(s, reported.get(s.device_id)) for s in subjects]


@router.get("/devices/{device_id}/health", responses=NOT_FOUND)
def device_health(
    device_id: str, repos: ReposDep, principal: PrincipalDep, request: Request
) -> HealthOut:
    """The device's health as its owner reads it: ``state`` (ok, fixing, needs_you,
    needs_service), a headline, what to do, and what happened lately. Also for a
    claimed device that has never reported (it needs switching on)."""
    subject = repos.setup.subject(device_id)
    if subject is None or not principal.may_see(subject.owner_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    checklists: Checklists = request.app.state.checklists
    facts = _facts(repos, subject, repos.telemetry.get_device(device_id), checklists)
    return HealthOut.of(device_id, subject.model, health_story(facts, repos.clock.now()))


def _facts(
    repos: Repositories,
    subject: SetupSubject,
    device: DeviceRecord | None,
    checklists: Checklists,
) -> DeviceFacts:
    found = repos.incidents.find(IncidentFilter(device_id=subject.device_id), RECENT_INCIDENTS)
    attempts = repos.remediation.attempts(i.id for i in found)
    incidents = [
        IncidentFacts(
            id=i.id,
            signature=i.signature,
            status=i.status,
            opened_at=i.opened_at,
            updated_at=i.updated_at,
            resolved_at=i.resolved_at,
            fixes=tuple(_fix(a) for a in attempts.get(i.id, [])),
            false_positive=i.verdict == "false_positive",
        )
        for i in found
    ]
    items = repos.outreach.items(
        owner_id=subject.owner_id, device_id=subject.device_id, delivered_only=True, limit=50
    )
    setup = repos.setup.states([subject], checklists)[0]
    return DeviceFacts(
        model=subject.model,
        online=device.online if device is not None else None,
        last_seen=device.last_seen if device is not None else None,
        incidents=incidents,
        outreach=[_item(o) for o in items],
        setup_problems=[
            SetupProblem(s.step.title, s.help) for s in setup.steps if s.state == "failed"
        ],
    )


def _fix(row: AttemptRow) -> FixFacts:
    return FixFacts(row.action, row.sent_at, row.result_state, row.result_at, row.verified)


def _item(item: OutreachItem) -> OutreachFacts:
    return OutreachFacts(
        id=item.id,
        kind=item.kind,
        status=item.status,
        created_at=item.delivered_at or item.created_at,
        updated_at=item.updated_at,
        has_slots=bool(item.slots),
        booked_start=item.booked.start_s if item.booked is not None else None,
        incident_id=item.incident_id,
    )
