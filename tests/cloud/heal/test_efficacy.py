"""The fix efficacy interval against Beta quantiles known in closed form or from tables."""

from __future__ import annotations

import math

import pytest

from cloud.heal.efficacy import credible_interval


def test_no_outcome_yet_is_the_uniform_prior() -> None:
    rate = credible_interval(0, 0)
    assert (rate.mean, rate.low, rate.high) == pytest.approx((0.5, 0.05, 0.95))


def test_one_success_is_beta_2_1_whose_quantiles_are_square_roots() -> None:
    rate = credible_interval(1, 0)
    assert rate.mean == pytest.approx(2 / 3)
    assert rate.low == pytest.approx(math.sqrt(0.05))
    assert rate.high == pytest.approx(math.sqrt(0.95))


def test_one_failure_mirrors_one_success() -> None:
    rate = credible_interval(0, 1)
    assert rate.low == pytest.approx(1 - math.sqrt(0.95))
    assert rate.high == pytest.approx(1 - math.sqrt(0.05))


def test_fifty_successes_leave_little_doubt() -> None:
    rate = credible_interval(50, 0)  # Beta(51, 1): quantile q is q ** (1 / 51)
    assert rate.low == pytest.approx(0.05 ** (1 / 51))
    assert rate.high == pytest.approx(0.95 ** (1 / 51))
    assert rate.high - rate.low < 0.06


def test_a_mixed_record_matches_the_published_quantiles_of_beta_9_3() -> None:
    rate = credible_interval(8, 2, mass=0.9)
    assert rate.low == pytest.approx(0.5299, abs=1e-4)
    assert rate.high == pytest.approx(0.9212, abs=1e-4)


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        credible_interval(-1, 0)
    with pytest.raises(ValueError, match="mass"):
        credible_interval(1, 1, mass=1.0)
