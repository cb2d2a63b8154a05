"""Support requests as the API takes and returns them: owners see their request, its
status and the service team's replies; the service team also sees the diagnostics (the
device's redacted bundle or the cloud's summary) and the SLA clocks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from cloud.api.schemas.common import to_datetime
from cloud.db.support import ReplyRow, SupportRequestRow
from cloud.support.sla import Category, SlaClock, overdue

MAX_DESCRIPTION = 2000
MAX_ANSWER = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _readable(text: str) -> str:
    """Trimmed text without control characters other than line breaks and tabs."""
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    text = text.strip()
    if len(text.split()) < 2 and len(text) < 10:
        raise ValueError("describe the problem in a few words")
    return text


class SupportRequestIn(BaseModel):
    """An owner's (or the service team's, on their behalf) problem report."""

    model_config = ConfigDict(extra="forbid")

    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    category: Category
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]

    @field_validator("description")
    @classmethod
    def _a_few_words(cls, text: str) -> str:
        return _readable(text)


class SupportAnswerIn(BaseModel):
    """A service reply or resolution text."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ANSWER)]

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if _CONTROL.search(text):
            raise ValueError("must not contain control characters")
        if not text.strip():
            raise ValueError("must not be blank")
        return text.strip()


class ReplyOut(BaseModel):
    at: datetime
    author: str
    text: str

    @classmethod
    def of(cls, row: ReplyRow) -> ReplyOut:
        return cls(at=to_datetime(row.at), author=row.author, text=row.text)


class SlaOut(BaseModel):
    """The request's SLA clocks; ``*_overdue`` once a due time passed without it."""

    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_overdue: bool
    resolution_overdue: bool
    escalated_at: datetime | None
    escalation: str | None


class SupportRequestOut(BaseModel):
    id: int
    device_id: str
    category: str
    description: str
    status: Literal["collecting", "open", "answered", "escalated", "resolved"]
    created_at: datetime
    updated_at: datetime
    resolution: str | None
    diagnostics: Literal["pending", "device", "cloud"]
    """Where the diagnostics come from: still collecting, the device's own bundle, or the
    cloud's summary (device offline or silent; ``diagnostics_note`` says which)."""
    diagnostics_note: str | None
    replies: list[ReplyOut] = Field(default_factory=list)
    sla: SlaOut | None = None
    """Service team only."""

    @classmethod
    def of(
        cls,
        row: SupportRequestRow,
        replies: list[ReplyRow],
        now: float,
        service: bool,
    ) -> SupportRequestOut:
        source: Literal["pending", "device", "cloud"] = "pending"
        if row.bundle_id is not None:
            source = "device"
        elif row.cloud_summary is not None:
            source = "cloud"
        return cls(
            id=row.id,
            device_id=row.device_id,
            category=row.category,
            description=row.description,
            status=row.status,
            created_at=to_datetime(row.created_at),
            updated_at=to_datetime(row.updated_at),
            resolution=row.resolution,
            diagnostics=source,
            diagnostics_note=row.diagnostics_note,
            replies=[ReplyOut.of(r) for r in replies],
            sla=_sla(row, now) if service else None,
        )


def _sla(row: SupportRequestRow, now: float) -> SlaOut:
    first_late, resolution_late = overdue(
        SlaClock(
            row.status,
            row.first_response_due,
            row.resolution_due,
            row.first_response_at,
            row.resolved_at,
        ),
        now,
    )

    def at(value: float | None) -> datetime | None:
        return to_datetime(value) if value is not None else None

    return SlaOut(
        first_response_due=to_datetime(row.first_response_due),
        resolution_due=to_datetime(row.resolution_due),
        first_response_at=at(row.first_response_at),
        resolved_at=at(row.resolved_at),
        first_response_overdue=first_late,
        resolution_overdue=resolution_late,
        escalated_at=at(row.escalated_at),
        escalation=row.escalation,
    )


class SupportRequestDetailOut(SupportRequestOut):
    """One request; ``bundle`` (the device's redacted bundle) and ``cloud_summary`` are
    shown to the service team only."""

    bundle: dict[str, Any] | None = None
    cloud_summary: dict[str, Any] | None = None
