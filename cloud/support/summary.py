"""The cloud's own summary of a device, for a support request whose device is offline
or did not answer: what the cloud already knows (recent telemetry, open incidents and
the fixes tried, firmware, last seen), shaped like a device bundle's telemetry part and
redacted by the same rules. Pure: the worker reads the rows and passes them in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cloud.db.records import DeviceRecord, StoredSample
from device_agent.diagnostics import summarise
from device_agent.redaction import Value, redact

__all__ = ["cloud_summary", "iso"]


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat()


def cloud_summary(
    *,
    device: DeviceRecord | None,
    samples: Sequence[StoredSample],
    window_s: float,
    incidents: Iterable[Mapping[str, Any]],
    now: float,
) -> dict[str, Value]:
    """A JSON-ready, redacted summary. ``incidents`` are the device's open or escalated
    incidents, each with its ``fix_attempts``."""
    summary: dict[str, Value] = {
        "source": "cloud",
        "generated_at": iso(now),
        "device": _device(device),
        "telemetry": {
            "window_s": window_s,
            "samples": len(samples),
            "metrics": {
                name: stats.model_dump()
                for name, stats in summarise((s.ts, s.metrics) for s in samples).items()
            },
        },
        "incidents": [_incident(i) for i in incidents],
    }
    redacted = redact(summary).value
    if not isinstance(redacted, dict):
        raise TypeError("a redacted mapping stays a mapping")
    return redacted


def _device(device: DeviceRecord | None) -> dict[str, Value]:
    if device is None:
        return {"known": False}
    return {
        "known": True,
        "model": device.model,
        "firmware": device.firmware,
        "online": device.online,
        "first_seen": iso(device.first_seen),
        "last_seen": iso(device.last_seen),
        "dropped_samples": device.dropped_total,
    }


def _incident(incident: Mapping[str, Any]) -> dict[str, Value]:
    return {
        "id": incident["id"],
        "signature": incident["signature"],
        "status": incident["status"],
        "opened_at": iso(incident["opened_at"]),
        "escalation": incident.get("escalation"),
        "fix_attempts": [
            {
                "action": a["action"],
                "sent_at": iso(a["sent_at"]),
                "result_state": a.get("result_state"),
                "verified": a.get("verified"),
                "detail": a.get("detail", ""),
            }
            for a in incident.get("fix_attempts", [])
        ],
    }
