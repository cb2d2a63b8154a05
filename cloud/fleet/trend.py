"""Trends for the fleet page: counts per time bucket over a window that ends now, every
bucket present (a quiet hour is a zero, not a gap), aligned to the epoch so the same
window always cuts the same buckets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["TrendPoint", "bucket_starts", "trend"]


@dataclass(frozen=True)
class TrendPoint:
    start: float
    opened: int
    """Incidents opened within the bucket."""
    reporting: int
    """Devices that sent telemetry within the bucket: how many were online then."""


def bucket_starts(until: float, span_s: float, width_s: float) -> list[float]:
    """The starts of the buckets covering (until - span_s, until], oldest first; the
    last bucket holds ``until`` (and is still filling)."""
    if width_s <= 0 or span_s <= 0:
        raise ValueError("span and bucket width must be positive")
    last = math.floor(until / width_s) * width_s
    count = max(1, math.ceil(span_s / width_s))
    return [last - width_s * (count - 1 - i) for i in range(count)]


def trend(
    opened: Mapping[int, int],
    reporting: Mapping[int, int],
    until: float,
    span_s: float,
    width_s: float,
) -> list[TrendPoint]:
    """One point per bucket from counts keyed by bucket number (``floor(ts / width_s)``,
    as the database groups them); buckets outside the window are ignored."""
    points = []
    for start in bucket_starts(until, span_s, width_s):
        number = round(start / width_s)
        points.append(TrendPoint(start, opened.get(number, 0), reporting.get(number, 0)))
    return points
