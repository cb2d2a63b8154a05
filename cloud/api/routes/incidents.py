"""Incidents: what detection opened, with its evidence; an owner sees only their devices'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status

from cloud.api.deps import IncidentStoreDep, PrincipalDep, ReposDep, ServiceDep, StoreDep
from cloud.api.schemas.common import to_datetime
from cloud.api.schemas.devices import TelemetryPoint
from cloud.api.schemas.incidents import BandOut, IncidentDetailOut, IncidentOut, VerdictIn
from cloud.db.incidents import IncidentFilter, IncidentRecord
from cloud.db.telemetry import TelemetryStore
from cloud.diagnosis.band import robust_bands

router = APIRouter(prefix="/incidents", tags=["incidents"])

BASELINE_SAMPLES = 360
"""Readings before the fault that a baseline band is learned from (six hours of
one-minute samples)."""


def _visible_devices(store: StoreDep, principal: PrincipalDep) -> frozenset[str] | None:
    if principal.role == "service":
        return None
    return frozenset(d.id for d in store.list_devices(owner_id=principal.owner_id))


@router.get("")
def list_incidents(
    incident_store: IncidentStoreDep,
    repos: ReposDep,
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
    found = incident_store.find(where, limit)
    attempts = repos.remediation.attempts(i.id for i in found)
    return [IncidentOut.of(i, attempts.get(i.id)) for i in found]


@router.get("/{incident_id}")
def get_incident(
    incident_id: int,
    incident_store: IncidentStoreDep,
    repos: ReposDep,
    store: StoreDep,
    visible: Annotated[frozenset[str] | None, Depends(_visible_devices)],
) -> IncidentDetailOut:
    """One incident with the telemetry it was opened on."""
    incident = incident_store.get(incident_id)
    if incident is None or (visible is not None and incident.device_id not in visible):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    summary = IncidentOut.of(incident, repos.remediation.attempts([incident_id]).get(incident_id))
    start, end = summary.evidence_window
    rows = store.telemetry(incident.device_id, since=start.timestamp(), until=end.timestamp())
    evidence = [TelemetryPoint(seq=r.seq, ts=to_datetime(r.ts), metrics=r.metrics) for r in rows]
    return IncidentDetailOut(
        **summary.model_dump(),
        evidence=evidence,
        anomaly_window=(to_datetime(incident.evidence_since), end),
        baseline=_baseline(incident, store),
    )


def _baseline(incident: IncidentRecord, store: TelemetryStore) -> dict[str, BandOut]:
    """Each metric's normal range before the fault: the detector's own, where it stated
    one for the metric it found; else learned from the readings before the fault."""
    history = store.telemetry(
        incident.device_id,
        until=incident.evidence_since - 1e-6,
        limit=BASELINE_SAMPLES,
        newest_first=True,
    )
    bands = {
        metric: BandOut(low=low, high=high, source="history")
        for metric, (low, high) in robust_bands(r.metrics for r in history).items()
    }
    said = incident.explanation
    metric, low, high = said.get("metric"), said.get("normal_low"), said.get("normal_high")
    if isinstance(metric, str) and isinstance(low, float | int) and isinstance(high, float | int):
        bands[metric] = BandOut(low=float(low), high=float(high), source="detector")
    return bands


@router.post("/{incident_id}/verdict")
def set_verdict(incident_id: int, body: VerdictIn, repos: ReposDep, _: ServiceDep) -> IncidentOut:
    """Mark an incident ``confirmed`` or ``false_positive`` (service team only). A false
    positive closes it and tunes that device's detection so the same benign pattern
    does not open it again; ``explanation.verdict_effect`` says what changed."""
    at = repos.clock.now()
    recorded = repos.incidents.set_verdict(incident_id, body.verdict, body.note, at)
    if recorded is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    return IncidentOut.of(recorded[0])
