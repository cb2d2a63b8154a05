"""Health, as load balancers and the demo's readiness check read it."""

from __future__ import annotations

from pydantic import BaseModel


class ExportOut(BaseModel):
    """The InfluxDB export's counters. Shown, never judged: an InfluxDB that is down
    loses points (``dropped``), not the cloud's health."""

    written: int
    dropped: int
    """Points lost: the queue was full, their batch failed after its retries, or they
    were still waiting at shutdown."""
    failed: int
    """Of those, points in batches that failed after their retries."""
    retries: int
    errors: int
    queued: int
    in_flight: int


class BacklogOut(BaseModel):
    """What the pipeline has received and not yet dealt with. Both 0: every message
    received so far is stored and scored, so the incidents it will open are open (a
    test harness waits for this before it reads the outcome of a run)."""

    ingest: int
    """Messages received and not yet written."""
    scoring: int
    """Stored batches not yet scored."""


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
    export: ExportOut | None = None
    """The time-series export's counters (None when export is off)."""
    backlog: BacklogOut | None = None
    """What ingest and scoring still hold (None when the API runs without them)."""
