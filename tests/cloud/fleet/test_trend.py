"""Trend buckets: a fixed number per window, aligned to the epoch, quiet ones as zeros."""

from __future__ import annotations

import pytest

from cloud.fleet.trend import TrendPoint, bucket_starts, trend


def test_buckets_cover_the_window_and_end_with_the_one_holding_now() -> None:
    starts = bucket_starts(until=10_000.0, span_s=3600.0, width_s=900.0)
    assert starts == [7200.0, 8100.0, 9000.0, 9900.0]


def test_a_quiet_bucket_is_a_zero_and_counts_outside_the_window_are_ignored() -> None:
    points = trend({8: 2, 11: 1, 3: 9}, {11: 4}, until=10_000.0, span_s=3600.0, width_s=900.0)
    assert points == [
        TrendPoint(7200.0, 2, 0),
        TrendPoint(8100.0, 0, 0),
        TrendPoint(9000.0, 0, 0),
        TrendPoint(9900.0, 1, 4),
    ]


def test_a_window_needs_a_positive_span_and_width() -> None:
    with pytest.raises(ValueError, match="positive"):
        bucket_starts(1.0, 0.0, 60.0)
