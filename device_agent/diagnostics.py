"""The support bundle a device sends when the cloud asks (``collect_diagnostics``).

The agent keeps three small, bounded records as it runs, so a bundle can be assembled at
once without reading the outbox (whose samples leave as soon as the cloud has them):

- :class:`TelemetryWindow`: the readings of the last ``window_s`` (at most
  ``max_samples``), summarised per metric on demand;
- :class:`SelfHealHistory`: the watchdog's last local self-heals;
- :class:`ErrorRing`: a logging handler keeping the last WARNING-or-worse records.

:func:`assemble` turns them, with firmware, model and configuration (the agent's
settings and whatever the HAL exposes), into a :class:`DiagnosticBundle` that is
**redacted before it leaves** (:func:`redact_bundle`, which the cloud runs again on
arrival) and fitted under the wire's size limit. Pure apart from the logging handler.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from device_agent.clock import Clock
from device_agent.contract import (
    MAX_BUNDLE_LINES,
    MAX_CONFIG_ENTRIES,
    MAX_DIAGNOSTIC_BYTES,
    DiagnosticBundle,
    LogLine,
    MetricSummary,
    Scalar,
    SelfHealRecord,
    describe,
    encode,
)
from device_agent.hal import ActionOutcome, Configurable, Hal
from device_agent.redaction import Value, redact_mapping, redact_text

__all__ = [
    "AGENT_LOGGER",
    "COLLECT_DIAGNOSTICS",
    "BundleParts",
    "Diagnostics",
    "ErrorRing",
    "SelfHealHistory",
    "TelemetryWindow",
    "assemble",
    "redact_bundle",
    "summarise",
]

COLLECT_DIAGNOSTICS = "collect_diagnostics"
"""The command action the agent answers itself (never the HAL's)."""
AGENT_LOGGER = "aftercare.agent"
"""The logger (and its children) whose warnings a bundle's ``errors`` hold."""
MAX_TEXT = 256
MAX_LINE = 512


def summarise(readings: Iterable[tuple[float, Mapping[str, float]]]) -> dict[str, MetricSummary]:
    """Per metric: count, min, max, mean and last of ``(ts, metrics)`` readings in time
    order. Non-finite values are skipped. Shared by the agent's bundle and the cloud's
    own summary of an offline device, so both read the same way."""
    stats: dict[str, list[float]] = {}
    for _, metrics in readings:
        for name, value in metrics.items():
            if not math.isfinite(value):
                continue
            entry = stats.setdefault(name, [0.0, value, value, 0.0, value])
            entry[0] += 1
            entry[1] = min(entry[1], value)
            entry[2] = max(entry[2], value)
            entry[3] += value
            entry[4] = value
    return {
        name: MetricSummary(count=int(n), min=low, max=high, mean=total / n, last=last)
        for name, (n, low, high, total, last) in sorted(stats.items())
    }


class TelemetryWindow:
    """The device's readings of the last ``window_s`` seconds of its clock, at most
    ``max_samples`` of them (the oldest go first). Memory is bounded either way."""

    def __init__(self, window_s: float = 3600.0, max_samples: int = 720) -> None:
        self.window_s = window_s
        self._readings: deque[tuple[float, dict[str, float]]] = deque(maxlen=max_samples)

    def add(self, ts: float, metrics: Mapping[str, float]) -> None:
        self._readings.append((ts, dict(metrics)))

    def summary(self, now: float) -> dict[str, MetricSummary]:
        since = now - self.window_s
        while self._readings and self._readings[0][0] < since:
            self._readings.popleft()
        return summarise(self._readings)


class SelfHealHistory:
    """The last local self-heals (watchdog firings, breaker changes, recoveries)."""

    def __init__(self, max_records: int = 50) -> None:
        self._records: deque[SelfHealRecord] = deque(maxlen=max_records)

    def record(self, ts: float, event: str, detail: Mapping[str, Scalar]) -> None:
        self._records.append(SelfHealRecord(ts=ts, event=event, detail=dict(detail)))

    def records(self) -> list[SelfHealRecord]:
        return list(self._records)


class ErrorRing(logging.Handler):
    """Keeps the last ``max_records`` WARNING-or-worse records that concern one device,
    stamped with the device's clock. Several agents may share a process (the simulator
    runs thousands): a record naming another device (``device=<id>``, the agent's log
    convention) is not this one's; a record naming none is everyone's."""

    def __init__(self, device_id: str, clock: Clock, max_records: int = 50) -> None:
        super().__init__(logging.WARNING)
        self.device_id = device_id
        self.clock = clock
        self._lines: deque[LogLine] = deque(maxlen=max_records)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError) as exc:  # a bad format string must not be lost
            message = f"{record.msg!r} (unformattable: {exc})"
        if "device=" in message and f"device={self.device_id}" not in message:
            return
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message += f" [{type(error).__name__}: {error}]"
        level = record.levelname if record.levelname in ("ERROR", "CRITICAL") else "WARNING"
        self._lines.append(
            LogLine(
                ts=self.clock.now(),
                level=level,
                logger=_clean(record.name, MAX_TEXT),
                message=_clean(message, MAX_LINE),
            )
        )

    def lines(self) -> list[LogLine]:
        return list(self._lines)


def _clean(text: str, limit: int) -> str:
    """One printable line of at most ``limit`` characters."""
    return "".join(c if c.isprintable() else " " for c in text)[:limit]


def _scalar(value: object) -> Scalar | None:
    """A value as the wire carries it in a config, or None when it cannot travel."""
    if isinstance(value, bool | int):
        return value if abs(int(value)) <= 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None:
        return None
    return _clean(str(value), MAX_TEXT)


@dataclass(frozen=True)
class BundleParts:
    """What the agent knows when asked: everything a bundle is made of, unredacted."""

    device_id: str
    request_id: str
    now: float
    model: str
    firmware: str
    window: TelemetryWindow
    self_heal: list[SelfHealRecord]
    errors: list[LogLine]
    config: Mapping[str, object]
    """Flat, prefixed names (``agent.mqtt_url``, ``device.wifi_psk``, ``fact.serial``)."""


def assemble(parts: BundleParts) -> DiagnosticBundle:
    """The redacted bundle, fitted under :data:`MAX_DIAGNOSTIC_BYTES` (oldest error
    lines and self-heals dropped first, then config entries beyond the limit)."""
    config: dict[str, Scalar] = {}
    for name, value in list(parts.config.items())[:MAX_CONFIG_ENTRIES]:
        scalar = _scalar(value)
        if scalar is not None:
            config[_clean(name, MAX_TEXT)] = scalar
    bundle = DiagnosticBundle(
        device_id=parts.device_id,
        bundle_id=uuid.uuid4().hex,
        request_id=parts.request_id,
        ts=parts.now,
        model=_clean(parts.model, MAX_TEXT),
        firmware=_clean(parts.firmware, MAX_TEXT),
        window_s=parts.window.window_s,
        telemetry=parts.window.summary(parts.now),
        self_heal=parts.self_heal[-MAX_BUNDLE_LINES:],
        config=config,
        errors=parts.errors[-MAX_BUNDLE_LINES:],
    )
    redacted, count = redact_bundle(bundle)
    return _fit(redacted.model_copy(update={"redacted": count}))


def redact_bundle(bundle: DiagnosticBundle) -> tuple[DiagnosticBundle, int]:
    """``bundle`` with secrets and personal data withheld from every free-form part (its
    configuration, self-heal details and log lines) and how many values were withheld
    now. The agent calls it before sending; the cloud again on arrival, where a count
    above zero means the device let something through."""
    config = redact_mapping(dict(bundle.config))
    heals = [_redacted_heal(record) for record in bundle.self_heal]
    lines = [_redacted_line(line) for line in bundle.errors]
    count = config.count + sum(n for _, n in heals) + sum(n for _, n in lines)
    data = bundle.model_dump()
    data.update(
        config=config.value,
        self_heal=[r.model_dump() for r, _ in heals],
        errors=[line.model_dump() for line, _ in lines],
        redacted=bundle.redacted + count,
    )
    return DiagnosticBundle.model_validate(data), count


def _redacted_heal(record: SelfHealRecord) -> tuple[SelfHealRecord, int]:
    detail = redact_mapping(dict(record.detail))
    return record.model_copy(update={"detail": _as_details(detail.value)}), detail.count


def _redacted_line(line: LogLine) -> tuple[LogLine, int]:
    message, count = redact_text(line.message)
    return line.model_copy(update={"message": message}), count


def _as_details(value: Value) -> dict[str, Scalar]:
    if not isinstance(value, dict):
        raise TypeError("a redacted mapping stays a mapping")
    return {k: v for k, v in value.items() if isinstance(v, str | int | float | bool)}


def _fit(bundle: DiagnosticBundle) -> DiagnosticBundle:
    """Drop the oldest log lines and self-heals, then config entries, until it fits."""
    while len(encode(bundle)) > MAX_DIAGNOSTIC_BYTES:
        if bundle.errors:
            bundle = bundle.model_copy(update={"errors": bundle.errors[1:]})
        elif bundle.self_heal:
            bundle = bundle.model_copy(update={"self_heal": bundle.self_heal[1:]})
        elif bundle.config:
            config = dict(list(bundle.config.items())[:-1])
            bundle = bundle.model_copy(update={"config": config})
        else:
            break
    return bundle


class Diagnostics:
    """One agent's diagnostics: it records as the agent runs (``telemetry``,
    ``self_heal``, ``errors`` while attached) and answers ``collect_diagnostics`` by
    handing a redacted bundle to ``send`` (the agent's durable outbox)."""

    def __init__(
        self,
        device_id: str,
        hal: Hal,
        clock: Clock,
        settings: Mapping[str, object],
        send: Callable[[DiagnosticBundle], None],
    ) -> None:
        self.device_id = device_id
        self.hal = hal
        self.clock = clock
        self.settings = settings
        """The agent's settings as plain values (secrets included: they are redacted)."""
        self.send = send
        self.telemetry = TelemetryWindow()
        self.self_heal = SelfHealHistory()
        self.errors = ErrorRing(device_id, clock)

    def attach(self) -> None:
        """Start keeping the agent's warnings (while it runs)."""
        logging.getLogger(AGENT_LOGGER).addHandler(self.errors)

    def detach(self) -> None:
        logging.getLogger(AGENT_LOGGER).removeHandler(self.errors)

    def collect(self, params: Mapping[str, Scalar]) -> ActionOutcome:
        """The ``collect_diagnostics`` action: assemble, redact and send a bundle for
        the support request named in ``params["request_id"]``."""
        request_id = params.get("request_id")
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return ActionOutcome(False, "collect_diagnostics needs a request_id parameter")
        try:
            bundle = assemble(self._parts(str(request_id)))
        except ValidationError as exc:
            return ActionOutcome(False, f"bundle refused by the wire contract: {describe(exc)}")
        self.send(bundle)
        return ActionOutcome(
            True,
            f"bundle {bundle.bundle_id}: {len(bundle.telemetry)} metrics, "
            f"{len(bundle.self_heal)} self-heals, {len(bundle.errors)} errors, "
            f"{bundle.redacted} values redacted",
        )

    def _parts(self, request_id: str) -> BundleParts:
        config: dict[str, object] = {f"agent.{k}": v for k, v in self.settings.items()}
        config.update(_prefixed("device", self.hal, "config"))
        config.update(_prefixed("fact", self.hal, "facts"))
        return BundleParts(
            device_id=self.device_id,
            request_id=request_id,
            now=self.clock.now(),
            model=self.hal.model,
            firmware=self.hal.firmware,
            window=self.telemetry,
            self_heal=self.self_heal.records(),
            errors=self.errors.lines(),
            config=config,
        )


def _prefixed(prefix: str, hal: Hal, method: str) -> dict[str, object]:
    """The HAL's ``config()`` or ``facts()`` under ``prefix.``; a HAL without config has
    none, and one that fails says so in the bundle instead of failing it."""
    if method == "config" and not isinstance(hal, Configurable):
        return {}
    try:
        values: Mapping[str, object] = getattr(hal, method)()
    except Exception as exc:
        logging.getLogger(AGENT_LOGGER).exception("%s() failed", method)
        return {f"{prefix}.error": f"{type(exc).__name__}: {exc}"}
    return {f"{prefix}.{k}": v for k, v in values.items()}
