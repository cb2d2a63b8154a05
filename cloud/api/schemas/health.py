"""Health, as load balancers and the demo's readiness check read it."""

from __future__ import annotations

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: str
    database: bool
    mqtt: bool
    ingest: bool
    """The ingest writer is alive and not stalled."""
    scoring: bool
    """The scoring worker is alive."""
    remediation: bool | None = None
    """The self-healing worker is alive (None when self-healing is switched off)."""
    delivery: bool | None = None
    """The outreach delivery worker is alive (None when the caller runs none)."""
    support: bool | None = None
    """The support worker (diagnostics, SLA clocks) is alive."""
