"""Claiming a device with its box's code, and releasing it on resale."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from device_agent.identity import format_claim_code


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_code: Annotated[str, StringConstraints(max_length=64)]
    """As printed (``7KQM-X3PA-9WVT-HN2C``); case, spaces and dashes do not matter."""

    @field_validator("claim_code")
    @classmethod
    def _parse(cls, value: str) -> str:
        return format_claim_code(value)  # InvalidClaimCode is a ValueError: a clear 422


class ClaimOut(BaseModel):
    device_id: str
    model: str
    firmware: str
    claimed_at: datetime


class ReleaseOut(BaseModel):
    """The device's new credentials, shown this once: re-provision the device with them
    (its old secret no longer verifies)."""

    device_id: str
    device_secret: str
    credentials_version: int


class BatchImported(BaseModel):
    imported: int
    model: str
