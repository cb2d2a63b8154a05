"""What every response shares: times leave the service as ISO 8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def to_datetime(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
