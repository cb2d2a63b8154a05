"""The cut-point protocol the cross-validation scores with, and the weighted conformal
intervals calibrated on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.rul.intervals import calibrate_intervals
from cloud.rul.truncation import fault_onsets, hinge_knee, truncation_weights


def test_hinge_knee_finds_where_a_flat_noisy_index_starts_rising() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(200.0)
    index = np.maximum(t - 120.0, 0.0) * 0.05 + rng.normal(0.0, 0.2, t.size)
    assert abs(hinge_knee(index) - 120) <= 8


def test_hinge_knee_without_a_rise_is_the_first_row() -> None:
    assert hinge_knee(np.linspace(5.0, 1.0, 50)) == 0
    assert hinge_knee(np.array([1.0, 2.0])) == 0


def test_fault_onsets_fall_where_the_signals_start_to_move() -> None:
    rng = np.random.default_rng(1)
    runs = []
    for life in (150, 180, 220):
        wear = np.maximum(np.arange(life) - (life - 60), 0.0)[:, None] * [0.1, -0.08]
        runs.append(wear + rng.normal(0.0, 0.3, (life, 2)))
    onsets = fault_onsets(runs)
    assert np.all(np.abs(onsets - np.array([90, 120, 160])) <= 12), onsets


def test_truncation_weights_give_every_run_one_uniform_cut_after_its_onset() -> None:
    weights = truncation_weights([10, 5, 1], [4, 9, 0])
    first, second, third = weights[:10], weights[10:15], weights[15:]
    assert first[:4].sum() == 0.0  # before the onset
    assert first[9] == 0.0  # a cut at failure leaves nothing to predict
    assert np.allclose(first[4:9], 0.2)
    assert np.allclose(second, [0, 0, 0, 1.0, 0])  # onset past the end: the last cut
    assert third.sum() == 0.0  # a one-row run cannot be cut before failure
    with pytest.raises(ValueError, match="longer"):
        truncation_weights([10], [1, 2])


def test_equal_weights_give_the_unweighted_conformal_ranks() -> None:
    rng = np.random.default_rng(2)
    predicted = np.full(57, 50.0)
    truth = predicted + rng.normal(0.0, 5.0, 57)
    table = calibrate_intervals(predicted, truth, 0.8)
    ordered = np.sort(truth - predicted)
    assert table.low_offsets[0] == ordered[math.floor(0.1 * 58) - 1]
    assert table.high_offsets[0] == ordered[math.ceil(0.9 * 58) - 1]
    same = calibrate_intervals(predicted, truth, 0.8, np.full(57, 3.0))
    assert same.low_offsets[0] == table.low_offsets[0]
    assert same.high_offsets[0] == table.high_offsets[0]


def test_weighted_calibration_follows_the_weight_not_the_row_count() -> None:
    # Many light rows with small errors, few heavy rows with large ones.
    predicted = np.full(1100, 50.0)
    errors = np.concatenate([np.zeros(1000), np.linspace(-30.0, 30.0, 100)])
    weight = np.concatenate([np.full(1000, 0.001), np.ones(100)])
    unweighted = calibrate_intervals(predicted, predicted + errors, 0.8)
    weighted = calibrate_intervals(predicted, predicted + errors, 0.8, weight)
    assert unweighted.high_offsets[0] == 0.0
    assert weighted.high_offsets[0] > 20.0
    assert weighted.low_offsets[0] < -20.0
