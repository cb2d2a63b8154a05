"""Downsampling telemetry for charts: a week of one-minute samples becomes a few hundred
buckets, each with the minimum, mean and maximum of every metric, so a chart keeps the
spikes that a plain mean would hide."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cloud.db.records import StoredSample

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
BUCKET_PATTERN = r"^[1-9][0-9]{0,5}[smhd]$"


class BadBucket(ValueError):
    """A bucket width that is not a whole number of s, m, h or d."""


def bucket_seconds(text: str) -> float:
    """``"5m"`` → 300.0."""
    if not re.fullmatch(BUCKET_PATTERN, text):
        raise BadBucket(f"bucket {text!r} is not a width like 30s, 5m, 1h or 1d")
    return int(text[:-1]) * _UNITS[text[-1]]


@dataclass(frozen=True)
class Stat:
    min: float
    mean: float
    max: float


@dataclass(frozen=True)
class Bucket:
    start: float
    """Aligned to the epoch, so the same request always cuts the same buckets."""
    count: int
    metrics: dict[str, Stat]


def downsample(
    samples: Iterable[StoredSample], width_s: float, metric: str | None = None
) -> list[Bucket]:
    """Buckets in time order; only buckets with samples (a gap stays a gap). With
    ``metric``, only that metric, and only samples that carry it."""
    sums: dict[float, dict[str, list[float]]] = {}
    counts: dict[float, int] = {}
    for sample in samples:
        values = sample.metrics
        if metric is not None:
            if metric not in values:
                continue
            values = {metric: values[metric]}
        start = math.floor(sample.ts / width_s) * width_s
        counts[start] = counts.get(start, 0) + 1
        acc = sums.setdefault(start, {})
        for name, value in values.items():
            if not math.isfinite(value):
                continue
            low_sum_high_n = acc.get(name)
            if low_sum_high_n is None:
                acc[name] = [value, value, value, 1.0]
            else:
                low_sum_high_n[0] = min(low_sum_high_n[0], value)
                low_sum_high_n[1] += value
                low_sum_high_n[2] = max(low_sum_high_n[2], value)
                low_sum_high_n[3] += 1.0
    return [
        Bucket(
            start,
            counts[start],
            {
                name: Stat(low, total / n, high)
                for name, (low, total, high, n) in sorted(sums[start].items())
            },
        )
        for start in sorted(sums)
    ]
