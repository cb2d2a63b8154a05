"""What an owner receives, whatever the channel: the item in plain words, the action,
the suggested slots in the owner's local time, and a link to answer it. One rendering
for email (text) and webhook (JSON), so the two never say different things."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from cloud.db.outreach import OutreachItem, StoredPreferences

__all__ = ["DeliveryError", "Outgoing", "Sender", "body_text", "payload", "subject"]


class DeliveryError(Exception):
    """A send failed; ``retryable`` when trying again later may work (the receiver was
    down or busy), not when it refused the message for good."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Outgoing:
    """One delivery to send: its stable id (receivers drop a resend by it), the item,
    the owner's preferences (addresses, time zone), the link to answer, and when."""

    delivery_id: str
    item: OutreachItem
    preferences: StoredPreferences
    link: str
    sent_at: float


class Sender(Protocol):
    """A channel. ``send`` returns once the receiver accepted the message, or raises
    :class:`DeliveryError`."""

    def send(self, message: Outgoing) -> None: ...


def _iso(ts: float, zone: ZoneInfo | None = None) -> str:
    return datetime.fromtimestamp(ts, zone or UTC).isoformat()


def _local(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%a %d %b %Y %H:%M %Z")


def subject(item: OutreachItem) -> str:
    urgent = "URGENT: " if item.urgency == "critical" else ""
    first_line = item.reason.strip().splitlines()[0] if item.reason.strip() else item.kind
    return f"{urgent}{first_line[:150]} ({item.device_id})"


def body_text(message: Outgoing) -> str:
    """The email's text: reason, action, lead time, slots (local time), link."""
    item, zone = message.item, message.preferences.preferences.zone
    lines = [item.reason, "", f"What to do: {item.action}"]
    if item.predicted_failure_at is not None:
        lines.append(f"Expected to fail around: {_local(item.predicted_failure_at, zone)}")
    if item.slots:
        lines += ["", "Service slots we can offer:"]
        lines += [f"  - {_local(s.start_s, zone)} to {_local(s.end_s, zone)}" for s in item.slots]
    lines += [
        "",
        f"Answer (book, reschedule, decline or snooze): {message.link}",
        "",
        f"Device: {item.device_id}. Reference: outreach item {item.id}, "
        f"delivery {message.delivery_id}.",
    ]
    return "\n".join(lines) + "\n"


def payload(message: Outgoing) -> bytes:
    """The webhook's JSON body (UTF-8, compact): exactly these bytes are signed."""
    item = message.item
    document = {
        "delivery_id": message.delivery_id,
        "item_id": item.id,
        "device_id": item.device_id,
        "kind": item.kind,
        "urgency": item.urgency,
        "reason": item.reason,
        "action": item.action,
        "evidence": item.evidence,
        "predicted_failure_at": (
            _iso(item.predicted_failure_at) if item.predicted_failure_at is not None else None
        ),
        "slots": [{"start": _iso(s.start_s), "end": _iso(s.end_s)} for s in item.slots],
        "link": message.link,
        "sent_at": _iso(message.sent_at),
    }
    return json.dumps(document, separators=(",", ":"), default=str).encode()
