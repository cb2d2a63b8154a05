"""Plain records the database writes and returns, shared by ingest, scoring and the API.

No SQLAlchemy here: the pure triage produces an :class:`IngestBatch` without touching the
database, and readers get frozen dataclasses rather than rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device_agent.contract import CommandResult, DiagnosticBundle, Event, Status, TelemetryBatch

__all__ = [
    "DeadLetter",
    "DeviceRecord",
    "FirmwareReport",
    "IncidentChange",
    "IngestBatch",
    "LinkChange",
    "StoredBatch",
    "StoredSample",
]


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    model: str | None
    firmware: str | None
    online: bool
    first_seen: float
    last_seen: float
    dropped_total: int
    owner_id: str | None


@dataclass(frozen=True)
class StoredSample:
    device_id: str
    seq: int
    ts: float
    metrics: dict[str, float]


@dataclass(frozen=True)
class LinkChange:
    """A device came online or went offline (its Last Will), as the cloud saw it."""

    device_id: str
    online: bool
    at: float


@dataclass(frozen=True)
class FirmwareReport:
    """The firmware a device said it runs (every status message carries it)."""

    device_id: str
    firmware: str
    at: float


@dataclass(frozen=True)
class StoredBatch:
    """What one ingest transaction changed that scoring and self-healing care about:
    samples that were new (never redeliveries), presence changes, firmware reports and
    command results (a result may be a redelivery: the first stored one counts)."""

    new_samples: list[StoredSample]
    link_changes: list[LinkChange]
    firmware: list[FirmwareReport] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentChange:
    """An incident's status as it has just changed (opened, mitigating, resolved,
    escalated, reopened), told to listeners once the change is committed: whatever
    mirrors incidents elsewhere (the time-series export) hears of every path that moves
    one, detection, self-healing and people alike."""

    incident_id: int
    device_id: str
    model: str | None
    signature: str
    status: str
    at: float
    peak_score: float


@dataclass(frozen=True)
class DeadLetter:
    received_at: float
    topic: str
    reason: str
    payload_size: int
    payload_excerpt: str


@dataclass
class IngestBatch:
    """One ingest batch, sorted by kind, as the store writes it in one transaction; each
    valid item keeps its arrival time."""

    telemetry: list[tuple[TelemetryBatch, float]] = field(default_factory=list)
    statuses: list[tuple[Status, float]] = field(default_factory=list)
    events: list[tuple[Event, float]] = field(default_factory=list)
    results: list[tuple[CommandResult, float]] = field(default_factory=list)
    diagnostics: list[tuple[DiagnosticBundle, float]] = field(default_factory=list)
    """Support bundles, already redacted again by the cloud (see ``redacted_in_cloud``)."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unregistered: int = 0
    """Messages from device ids the factory registry does not know, when only registered
    devices are accepted: counted, never stored (not even as dead letters), so a flood
    of made-up ids cannot grow the database."""
    redacted_in_cloud: int = 0
    """Values the cloud's redaction withheld from bundles the device had redacted
    already: above zero, a device let a secret or personal datum through."""

    def __len__(self) -> int:
        return (
            len(self.telemetry)
            + len(self.statuses)
            + len(self.events)
            + len(self.results)
            + len(self.diagnostics)
            + len(self.dead_letters)
            + self.unregistered
        )
