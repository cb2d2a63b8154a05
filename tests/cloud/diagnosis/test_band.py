"""The baseline band learned from readings before a fault: robust to a few odd readings."""

from __future__ import annotations

import pytest

from cloud.diagnosis.band import MAD_TO_SIGMA, robust_band, robust_bands


def test_the_band_is_the_median_plus_or_minus_three_robust_sigmas() -> None:
    band = robust_band([10.0, 11.0, 12.0, 13.0, 14.0])
    assert band == pytest.approx((12.0 - 3 * MAD_TO_SIGMA, 12.0 + 3 * MAD_TO_SIGMA))


def test_an_odd_reading_does_not_widen_the_band() -> None:
    steady = [20.0, 20.5, 21.0, 20.5, 20.0, 21.0, 20.5]
    assert robust_band([*steady, 95.0]) == pytest.approx(robust_band([*steady, 21.0]))


def test_too_few_readings_give_no_band_and_non_finite_ones_are_skipped() -> None:
    assert robust_band([1.0, 2.0, float("nan"), float("inf"), 3.0, 4.0]) is None
    assert robust_bands([{"a": 1.0, "b": 2.0}] * 5 + [{"a": 1.0}]) == {
        "a": (1.0, 1.0),
        "b": (2.0, 2.0),
    }
