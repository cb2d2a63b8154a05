"""What the time-series export writes, as InfluxDB line protocol (pure: no I/O).

Three measurements, each one point per thing that happened:

- ``telemetry``: one point per stored sample, tags ``device`` and ``model``, one float
  field per numeric metric, at the sample's own timestamp;
- ``incident``: one point per incident status change, tags ``device``, ``model``,
  ``signature`` and ``status`` (open, mitigating, resolved, escalated), fields
  ``incident_id`` and ``peak_score``;
- ``fix``: one point per judged fix attempt, tags ``device``, ``model``, ``signature`` and
  ``action``, fields ``verified`` (recovery seen in the telemetry), ``ok`` (the device
  ran it), ``attempt`` and ``incident_id``.

Timestamps are written in microseconds. A device whose model is not known yet has no
``model`` tag. Metric values are always written as floats: InfluxDB refuses a field whose
type changes within a series, and a reading of ``5`` after ``5.5`` must not be dropped.
"""

from __future__ import annotations

import functools
import math

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from cloud.db.records import IncidentChange, StoredSample
from cloud.heal.outcome import FixOutcome

__all__ = [
    "FIX",
    "INCIDENT",
    "MEASUREMENTS",
    "PRECISION",
    "TELEMETRY",
    "fix_line",
    "incident_line",
    "telemetry_line",
]

TELEMETRY = "telemetry"
INCIDENT = "incident"
FIX = "fix"
MEASUREMENTS = (TELEMETRY, INCIDENT, FIX)
"""Every measurement the export writes (the Grafana dashboards query exactly these)."""

PRECISION: WritePrecision = WritePrecision.US  # type: ignore[assignment]  # a str constant
"""The precision of every line's timestamp: one batch, one precision."""


def _micros(ts: float) -> int:
    return round(ts * 1_000_000)


_KEY_ESCAPES = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
"""Line protocol: tag keys, tag values and field keys escape these."""


@functools.lru_cache(maxsize=4096)
def _key(text: str) -> str:
    return text.translate(_KEY_ESCAPES)


@functools.lru_cache(maxsize=100_000)
def _telemetry_series(device_id: str, model: str | None) -> str:
    """``telemetry,device=…,model=…`` (tags sorted; an empty one left out), once per
    device: the same for every sample it sends."""
    tags = [("device", device_id), ("model", model)]
    parts = [TELEMETRY]
    for name, value in tags:
        if value:
            escaped = _key(value)
            if escaped.endswith("\\"):
                escaped += " "  # a trailing backslash would escape the separator
            parts.append(f"{name}={escaped}")
    return ",".join(parts)


@functools.lru_cache(maxsize=4096)
def _field_keys(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The metric names in line-protocol order (sorted), each with its escaped key: a
    device sends the same names sample after sample."""
    return tuple((name, _key(name)) for name in sorted(names))


def telemetry_line(sample: StoredSample, model: str | None) -> str | None:
    """The sample as a ``telemetry`` point; None when it has no finite numeric metric
    (a point needs at least one field). Written by hand rather than through the
    client's ``Point``: this runs once per stored sample, and ``Point`` costs as much
    time as storing the sample does (the same text, ten times faster)."""
    metrics = sample.metrics
    fields = []
    for name, key in _field_keys(tuple(metrics)):
        value = metrics[name]
        if type(value) is not float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            value = float(value)
        if math.isfinite(value):
            text = repr(value)
            fields.append(f"{key}={text[:-2] if text.endswith('.0') else text}")
    if not fields:
        return None
    series = _telemetry_series(sample.device_id, model)
    return f"{series} {','.join(fields)} {_micros(sample.ts)}"


def incident_line(change: IncidentChange) -> str:
    """The change as an ``incident`` point at the moment it happened."""
    point = (
        Point(INCIDENT)
        .tag("device", change.device_id)
        .tag("model", change.model)
        .tag("signature", change.signature)
        .tag("status", change.status)
        .field("incident_id", change.incident_id)
        .field("peak_score", float(change.peak_score))
        .time(_micros(change.at), PRECISION)
    )
    return str(point.to_line_protocol())


def fix_line(outcome: FixOutcome) -> str:
    """The judged attempt as a ``fix`` point at the moment it was judged."""
    point = (
        Point(FIX)
        .tag("device", outcome.device_id)
        .tag("model", outcome.model or None)
        .tag("signature", outcome.signature)
        .tag("action", outcome.action)
        .field("verified", outcome.verified)
        .field("ok", outcome.result_state == "done")
        .field("attempt", outcome.attempt)
        .field("incident_id", outcome.incident_id)
        .time(_micros(outcome.at), PRECISION)
    )
    return str(point.to_line_protocol())
