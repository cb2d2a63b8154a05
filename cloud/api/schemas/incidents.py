"""Incidents and their evidence, as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.schemas.common import to_datetime
from cloud.api.schemas.devices import TelemetryPoint
from cloud.db.incidents import IncidentRecord
from cloud.db.remediation import AttemptRow, FixCounts
from cloud.heal.efficacy import credible_interval

EVIDENCE_MARGIN_S = 600.0


class FixAttemptOut(BaseModel):
    """One fix sent for an incident: the device's word (``result_state``) and the
    telemetry's verdict (``verified``: true, false, or null while pending)."""

    number: int
    command_id: str
    action: str
    params: dict[str, Any]
    sent_at: datetime
    result_state: str | None
    result_at: datetime | None
    detail: str
    verified: bool | None
    evidence_window: tuple[datetime, datetime] | None
    """The telemetry that showed recovery (or its absence, while judged)."""

    @classmethod
    def of(cls, row: AttemptRow) -> FixAttemptOut:
        evidence = None
        if row.evidence_from is not None and row.evidence_to is not None:
            evidence = (to_datetime(row.evidence_from), to_datetime(row.evidence_to))
        return cls(
            number=row.number,
            command_id=row.command_id,
            action=row.action,
            params=row.params,
            sent_at=to_datetime(row.sent_at),
            result_state=row.result_state,
            result_at=to_datetime(row.result_at) if row.result_at is not None else None,
            detail=row.detail,
            verified=row.verified,
            evidence_window=evidence,
        )


class FixRecordOut(BaseModel):
    """What the fleet has learned of one fix for one model and signature (verified
    outcomes only)."""

    model: str
    signature: str
    action: str
    successes: int
    failures: int
    success_rate: float | None
    rate_mean: float
    """The Beta(1 + successes, 1 + failures) posterior mean of the success rate: what
    to expect of the next try (0.5 with no outcome yet)."""
    rate_low: float
    rate_high: float
    """The central 90 % credible interval of the success rate: few outcomes, wide."""

    @classmethod
    def of(cls, counts: FixCounts) -> FixRecordOut:
        tried = counts.successes + counts.failures
        rate = credible_interval(counts.successes, counts.failures, 0.9)
        return cls(
            model=counts.model,
            signature=counts.signature,
            action=counts.action,
            successes=counts.successes,
            failures=counts.failures,
            success_rate=counts.successes / tried if tried else None,
            rate_mean=round(rate.mean, 4),
            rate_low=round(rate.low, 4),
            rate_high=round(rate.high, 4),
        )


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
    escalation: str | None = None
    fix_attempts: list[FixAttemptOut] = Field(default_factory=list)

    @classmethod
    def of(cls, incident: IncidentRecord, attempts: list[AttemptRow] | None = None) -> IncidentOut:
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
            escalation=incident.escalation,
            fix_attempts=[FixAttemptOut.of(a) for a in attempts or []],
        )


class BandOut(BaseModel):
    """A metric's normal range before the fault."""

    low: float
    high: float
    source: Literal["detector", "history"]
    """``detector``: the range the detector stated when it found the fault;
    ``history``: the median ± 3 robust sigmas of the device's readings before it."""


class IncidentDetailOut(IncidentOut):
    evidence: list[TelemetryPoint]
    anomaly_window: tuple[datetime, datetime] | None = None
    """From the first abnormal reading to the resolution (or the latest update)."""
    baseline: dict[str, BandOut] = Field(default_factory=dict)
    """Per metric, its normal range before the fault (metrics with enough history)."""


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
