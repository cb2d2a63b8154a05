"""Incidents: what detection opened, with its evidence; an owner sees only their devices'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from cloud.api.deps import IncidentStoreDep, PrincipalDep, StoreDep
from cloud.api.schemas import TelemetryPoint, to_datetime
from cloud.db.incidents import IncidentFilter, IncidentRecord

router = APIRouter(prefix="/incidents", tags=["incidents"])

EVIDENCE_MARGIN_S = 600.0


class FixAttemptOut(BaseModel):
    command_id: str
    action: str
    outcome: str
    recovery_verified: bool


class IncidentOut(BaseModel):
    id: int
    device_id: str
    model: str | None
    signature: str
    status: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    peak_score: float
    explanation: dict[str, Any]
    evidence_window: tuple[datetime, datetime]
    fix_attempts: list[FixAttemptOut]

    @classmethod
    def of(cls, incident: IncidentRecord) -> IncidentOut:
        end = incident.resolved_at or incident.updated_at
        return cls(
            id=incident.id,
            device_id=incident.device_id,
            model=incident.model,
            signature=incident.signature,
            status=incident.status,
            opened_at=to_datetime(incident.opened_at),
            updated_at=to_datetime(incident.updated_at),
            resolved_at=to_datetime(incident.resolved_at) if incident.resolved_at else None,
            peak_score=incident.peak_score,
            explanation=incident.explanation,
            evidence_window=(
                to_datetime(incident.evidence_since - EVIDENCE_MARGIN_S),
                to_datetime(end),
            ),
            fix_attempts=[],
        )


class IncidentDetailOut(IncidentOut):
    evidence: list[TelemetryPoint]


def _visible_devices(store: StoreDep, principal: PrincipalDep) -> frozenset[str] | None:
    if principal.role == "service":
        return None
    return frozenset(d.id for d in store.list_devices(owner_id=principal.owner_id))


@router.get("")
def list_incidents(
    incident_store: IncidentStoreDep,
    visible: Annotated[frozenset[str] | None, Depends(_visible_devices)],
    status_: Annotated[
        Literal["open", "mitigating", "resolved", "escalated"] | None, Query(alias="status")
    ] = None,
    device: str | None = None,
    signature: str | None = None,
    model: str | None = None,
    since: Annotated[datetime | None, Query(description="opened at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[IncidentOut]:
    where = IncidentFilter(
        status=status_,
        device_id=device,
        signature=signature,
        model=model,
        since=since.timestamp() if since else None,
        device_ids=visible,
    )
    return [IncidentOut.of(i) for i in incident_store.find(where, limit)]


@router.get("/{incident_id}")
def get_incident(
    incident_id: int,
    incident_store: IncidentStoreDep,
    store: StoreDep,
    visible: Annotated[frozenset[str] | None, Depends(_visible_devices)],
) -> IncidentDetailOut:
    """One incident with the telemetry it was opened on."""
    incident = incident_store.get(incident_id)
    if incident is None or (visible is not None and incident.device_id not in visible):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    summary = IncidentOut.of(incident)
    start, end = summary.evidence_window
    rows = store.telemetry(incident.device_id, since=start.timestamp(), until=end.timestamp())
    evidence = [TelemetryPoint(seq=r.seq, ts=to_datetime(r.ts), metrics=r.metrics) for r in rows]
    return IncidentDetailOut(**summary.model_dump(), evidence=evidence)
