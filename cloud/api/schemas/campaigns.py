"""Campaigns as the API takes and returns them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud.api.schemas.common import to_datetime
from cloud.api.schemas.tags import Tag
from cloud.db.campaigns import CampaignRow, TargetRow
from cloud.heal.playbook import Verification
from device_agent.contract import Scalar


class CohortIn(BaseModel):
    """Which devices: every device matching all the given filters."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    firmware: str | None = None
    tag: Tag | None = None
    device_ids: list[str] | None = Field(default=None, max_length=100_000)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    params: dict[str, Scalar] = Field(default_factory=dict)
    cohort: CohortIn
    verify: Verification
    signature: str | None = Field(default=None, max_length=128)
    """The fault the fix addresses: it must no longer be found for a device to count."""
    canary_share: float = Field(default=0.05, gt=0, le=1)
    batch_size: int = Field(default=50, ge=1, le=10_000)
    pause_s: float = Field(default=600.0, ge=0)
    max_failure_rate: float = Field(default=0.2, ge=0, le=1)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)


class CampaignOut(BaseModel):
    id: int
    status: str
    reason: str
    action: str
    params: dict[str, Any]
    cohort: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    devices: int
    batches: int
    progress: dict[str, int]
    """Devices per state: queued, sent, verifying, verified, failed."""
    failure_rate_by_batch: list[float | None]

    @classmethod
    def of(cls, row: CampaignRow, targets: list[TargetRow]) -> CampaignOut:
        batches = max((t.batch for t in targets), default=-1) + 1
        rates: list[float | None] = []
        for batch in range(batches):
            judged = [t for t in targets if t.batch == batch and t.state in ("verified", "failed")]
            failed = sum(t.state == "failed" for t in judged)
            rates.append(round(failed / len(judged), 3) if judged else None)
        return cls(
            id=row.id,
            status=row.status,
            reason=row.reason,
            action=row.spec["action"],
            params=row.spec.get("params", {}),
            cohort=row.cohort,
            created_at=to_datetime(row.created_at),
            updated_at=to_datetime(row.updated_at),
            devices=len(targets),
            batches=batches,
            progress=dict(Counter(t.state for t in targets)),
            failure_rate_by_batch=rates,
        )
