"""Downsampling for charts: min, mean and max per bucket keep the spikes a mean hides."""

from __future__ import annotations

import math

import pytest

from cloud.db.records import StoredSample
from cloud.timeseries import BadBucket, bucket_seconds, downsample


def _samples(values: list[float], every_s: float = 60.0, start: float = 0.0) -> list[StoredSample]:
    return [StoredSample("d", i, start + i * every_s, {"t": v}) for i, v in enumerate(values)]


def test_bucket_widths_are_read_as_people_write_them() -> None:
    assert bucket_seconds("30s") == 30.0
    assert bucket_seconds("5m") == 300.0
    assert bucket_seconds("1h") == 3600.0
    assert bucket_seconds("2d") == 172_800.0
    for bad in ("0m", "5", "m", "5w", "-5m", "1.5h"):
        with pytest.raises(BadBucket, match="30s, 5m, 1h or 1d"):
            bucket_seconds(bad)


def test_each_bucket_keeps_min_mean_and_max_so_a_spike_survives() -> None:
    values = [20.0] * 10
    values[7] = 95.0
    buckets = downsample(_samples(values), 300.0)
    assert [b.start for b in buckets] == [0.0, 300.0]
    assert [b.count for b in buckets] == [5, 5]
    second = buckets[1].metrics["t"]
    assert second.max == 95.0
    assert second.min == 20.0
    assert second.mean == pytest.approx((4 * 20 + 95) / 5)


def test_buckets_align_to_the_epoch_and_gaps_stay_gaps() -> None:
    samples = _samples([1.0, 2.0], start=1_000_030.0) + _samples([3.0], start=1_010_000.0)
    buckets = downsample(samples, 600.0)
    assert [b.start for b in buckets] == [999_600.0, 1_009_800.0]


def test_a_week_of_minute_samples_is_a_few_hundred_buckets() -> None:
    week = _samples([float(i % 97) for i in range(7 * 24 * 60)])
    buckets = downsample(week, 1800.0)
    assert len(buckets) == 336
    assert sum(b.count for b in buckets) == len(week)


def test_one_metric_only_and_non_finite_values_are_left_out() -> None:
    samples = [
        StoredSample("d", 0, 0.0, {"t": 1.0, "p": 5.0}),
        StoredSample("d", 1, 1.0, {"p": 7.0}),
        StoredSample("d", 2, 2.0, {"t": math.nan, "p": 9.0}),
    ]
    only_t = downsample(samples, 60.0, metric="t")
    assert only_t[0].count == 2
    assert set(only_t[0].metrics) == {"t"}
    assert only_t[0].metrics["t"].mean == 1.0
    both = downsample(samples, 60.0)
    assert both[0].metrics["p"].mean == 7.0
