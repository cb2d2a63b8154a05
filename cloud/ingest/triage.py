"""Sorting raw MQTT messages into valid payloads and dead letters (pure, no I/O).

Every message ends up in exactly one place: a typed payload the store will write, or a
dead letter carrying the topic, a printable excerpt of the payload and the reason it was
refused. Nothing is dropped silently and nothing here can raise on bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloud.db.records import DeadLetter, IngestBatch
from device_agent import contract
from device_agent.contract import (
    Channel,
    CommandResult,
    ContractError,
    DiagnosticBundle,
    Event,
    Status,
    TelemetryBatch,
)
from device_agent.diagnostics import redact_bundle

EXCERPT_BYTES = 512


@dataclass(frozen=True)
class RawMessage:
    """A message as it came off the broker, stamped with the cloud's clock."""

    topic: str
    payload: bytes
    received_at: float


def excerpt(payload: bytes) -> str:
    """A printable start of the payload for people reading dead letters: invalid UTF-8
    and control characters are escaped, so any payload can be stored as text (PostgreSQL
    refuses NUL in text)."""
    text = payload[:EXCERPT_BYTES].decode("utf-8", errors="backslashreplace")
    text = "".join(_printable(ch) for ch in text)
    return text + ("…" if len(payload) > EXCERPT_BYTES else "")


def _printable(ch: str) -> str:
    if ch in "\n\t" or not (ch < " " or ch == "\x7f"):
        return ch
    return f"\\x{ord(ch):02x}"


def triage(
    messages: list[RawMessage],
    max_future_skew_s: float,
    registered: Callable[[str], bool] | None = None,
) -> IngestBatch:
    """Validate each message against the wire contract and sort it. With ``registered``,
    a message on a device id it refuses is only counted (see
    :attr:`IngestBatch.unregistered`)."""
    sorted_batch = IngestBatch()
    for raw in messages:
        if registered is not None and not _from_registered(raw.topic, registered):
            sorted_batch.unregistered += 1
            continue
        try:
            message = contract.decode(raw.topic, raw.payload)
            _check_clock(message, raw.received_at + max_future_skew_s)
        except ContractError as exc:
            sorted_batch.dead_letters.append(_dead_letter(raw, exc.reason))
            continue
        if isinstance(message, TelemetryBatch):
            sorted_batch.telemetry.append((message, raw.received_at))
        elif isinstance(message, Status):
            sorted_batch.statuses.append((message, raw.received_at))
        elif isinstance(message, Event):
            sorted_batch.events.append((message, raw.received_at))
        elif isinstance(message, CommandResult):
            sorted_batch.results.append((message, raw.received_at))
        elif isinstance(message, DiagnosticBundle):
            # Defence in depth: the device redacted it; the same rules run again here.
            redacted, found = redact_bundle(message)
            sorted_batch.redacted_in_cloud += found
            sorted_batch.diagnostics.append((redacted, raw.received_at))
        else:
            channel = contract.parse_topic(raw.topic)[1]
            sorted_batch.dead_letters.append(
                _dead_letter(raw, f"devices may not publish on the {channel.value} channel")
            )
    return sorted_batch


def _from_registered(topic: str, registered: Callable[[str], bool]) -> bool:
    """Whether the topic names a registered device; a topic outside the contract names
    none, and is refused as a dead letter like any other malformed message."""
    try:
        device_id, _ = contract.parse_topic(topic)
    except ContractError:
        return True
    return registered(device_id)


def _check_clock(message: contract.Message, latest_s: float) -> None:
    if isinstance(message, TelemetryBatch):
        newest = max(sample.ts for sample in message.samples)
    elif isinstance(message, Status | Event | CommandResult | DiagnosticBundle):
        newest = message.ts
    else:
        return
    if newest > latest_s:
        raise ContractError(f"timestamp {newest:.0f} is in the future of the cloud's clock")


def _dead_letter(raw: RawMessage, reason: str) -> DeadLetter:
    return DeadLetter(
        received_at=raw.received_at,
        topic=excerpt(raw.topic.encode())[:1024],
        reason=reason,
        payload_size=len(raw.payload),
        payload_excerpt=excerpt(raw.payload),
    )


def stored_ranges(batch: IngestBatch) -> dict[str, list[tuple[int, int]]]:
    """Per device, the seq ranges of every sample in the batch: once the batch is stored
    all of them are (new ones, and redeliveries stored before), so all are acknowledged."""
    seqs: dict[str, set[int]] = {}
    for message, _ in batch.telemetry:
        seqs.setdefault(message.device_id, set()).update(s.seq for s in message.samples)
    return {device_id: contract.ranges_of(sorted(found)) for device_id, found in seqs.items()}


_ITEM_KINDS = ("telemetry", "statuses", "events", "results", "diagnostics", "dead_letters")


def halves(batch: IngestBatch) -> tuple[IngestBatch, IngestBatch]:
    """Split a batch in two (by item, order kept) to find the item the database refuses."""
    items = [(kind, item) for kind in _ITEM_KINDS for item in getattr(batch, kind)]
    middle = len(items) // 2
    return _rebuild(items[:middle]), _rebuild(items[middle:])


def _rebuild(items: list[tuple[str, object]]) -> IngestBatch:
    batch = IngestBatch()
    for kind, item in items:
        getattr(batch, kind).append(item)
    return batch


def refused_by_store(batch: IngestBatch, reason: str) -> IngestBatch:
    """A one-item batch the database refused, as a batch holding its dead letter."""
    if len(batch) != 1:
        raise ValueError("only a single refused item becomes a dead letter")
    letter: DeadLetter
    if batch.dead_letters:
        old = batch.dead_letters[0]
        letter = DeadLetter(
            old.received_at, old.topic, f"{old.reason}; then {reason}", old.payload_size, ""
        )
    else:
        kind = next(k for k in _ITEM_KINDS[:-1] if getattr(batch, k))
        message, received_at = getattr(batch, kind)[0]
        channel = {
            "telemetry": Channel.TELEMETRY,
            "statuses": Channel.STATUS,
            "events": Channel.EVENTS,
            "results": Channel.COMMAND_RESULT,
            "diagnostics": Channel.DIAGNOSTICS,
        }[kind]
        raw = RawMessage(
            contract.topic(message.device_id, channel), contract.encode(message), received_at
        )
        letter = _dead_letter(raw, reason)
    return IngestBatch(dead_letters=[letter])
