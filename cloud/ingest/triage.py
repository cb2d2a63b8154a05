"""Sorting raw MQTT messages into valid payloads and dead letters (pure, no I/O).

Every message ends up in exactly one place: a typed payload the store will write, or a
dead letter carrying the topic, a printable excerpt of the payload and the reason it was
refused. Nothing is dropped silently and nothing here can raise on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.db.records import DeadLetter, IngestBatch
from device_agent import contract
from device_agent.contract import (
    CommandResult,
    ContractError,
    Event,
    Status,
    TelemetryBatch,
)

EXCERPT_BYTES = 512


@dataclass(frozen=True)
class RawMessage:
    """A message as it came off the broker, stamped with the cloud's clock."""

    topic: str
    payload: bytes
    received_at: float


def excerpt(payload: bytes) -> str:
    """A printable start of the payload for people reading dead letters."""
    text = payload[:EXCERPT_BYTES].decode("utf-8", errors="backslashreplace")
    return text + ("…" if len(payload) > EXCERPT_BYTES else "")


def triage(messages: list[RawMessage], max_future_skew_s: float) -> IngestBatch:
    """Validate each message against the wire contract and sort it."""
    sorted_batch = IngestBatch()
    for raw in messages:
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
        else:
            channel = contract.parse_topic(raw.topic)[1]
            sorted_batch.dead_letters.append(
                _dead_letter(raw, f"devices may not publish on the {channel.value} channel")
            )
    return sorted_batch


def _check_clock(message: contract.Message, latest_s: float) -> None:
    if isinstance(message, TelemetryBatch):
        newest = max(sample.ts for sample in message.samples)
    elif isinstance(message, Status | Event | CommandResult):
        newest = message.ts
    else:
        return
    if newest > latest_s:
        raise ContractError(f"timestamp {newest:.0f} is in the future of the cloud's clock")


def _dead_letter(raw: RawMessage, reason: str) -> DeadLetter:
    return DeadLetter(
        received_at=raw.received_at,
        topic=raw.topic[:1024],
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
