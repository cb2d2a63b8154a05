"""Fault signatures as the service team's verdicts judged them: how often each opened
an incident, how often it was confirmed or a false positive."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.deps import IncidentStoreDep, ServiceDep
from cloud.api.schemas.incidents import SignatureStatsOut

router = APIRouter(prefix="/signatures", tags=["incidents"])


@router.get("")
def list_signatures(incident_store: IncidentStoreDep, _: ServiceDep) -> list[SignatureStatsOut]:
    out = []
    for stats in incident_store.signature_stats():
        judged = stats.confirmed + stats.false_positive
        out.append(
            SignatureStatsOut(
                signature=stats.signature,
                incidents=stats.incidents,
                confirmed=stats.confirmed,
                false_positive=stats.false_positive,
                precision=round(stats.confirmed / judged, 3) if judged else None,
            )
        )
    return out
