"""Incidents and their evidence, as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.schemas.common import to_datetime
from cloud.api.schemas.devices import TelemetryPoint
from cloud.db.incidents import IncidentRecord

EVIDENCE_MARGIN_S = 600.0


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
    verdict: Literal["false_positive", "confirmed"] | None = None
    verdict_at: datetime | None = None
    verdict_note: str | None = None

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
            verdict=incident.verdict,
            verdict_at=to_datetime(incident.verdict_at) if incident.verdict_at else None,
            verdict_note=incident.verdict_note,
        )


class IncidentDetailOut(IncidentOut):
    evidence: list[TelemetryPoint]


class VerdictIn(BaseModel):
    """A service engineer's judgement of an incident."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["false_positive", "confirmed"]
    note: str = Field(default="", max_length=500)


class SignatureStatsOut(BaseModel):
    signature: str
    incidents: int
    confirmed: int
    false_positive: int
    precision: float | None
    """confirmed / (confirmed + false_positive); None until one of them was given."""
