"""Hand-made cases for the NAB scorer (rules from shared/data/README.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.nab_scoring import (
    PROFILES,
    Window,
    best_threshold,
    file_score_at,
    normalised_score,
    prepare_file,
    probation_rows,
    row_values,
    scaled_sigmoid,
)

STANDARD, LOW_FP, LOW_FN = PROFILES


def score(
    scores: list[float], windows: list[Window], theta: float, probation: int = 0, profile=STANDARD
) -> float:
    fs = prepare_file(np.asarray(scores, dtype=float), windows, probation, profile)
    return float(file_score_at(fs, np.array([theta]))[0])


def test_sigmoid_values() -> None:
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert scaled_sigmoid(3.5) == -1.0


def test_probation_length() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(10_000) == 750


def test_detection_at_left_edge_earns_a_tp() -> None:
    s = [0.0] * 20
    s[5] = 1.0
    assert score(s, [Window(5, 14)], 0.5) == pytest.approx(1.0)


def test_detection_at_right_edge_earns_little() -> None:
    s = [0.0] * 20
    s[14] = 1.0
    value = score(s, [Window(5, 14)], 0.5)
    expected = scaled_sigmoid(-1 / 10) / scaled_sigmoid(-1.0)
    assert value == pytest.approx(expected)
    assert 0 < value < 0.3


def test_window_counts_only_its_earliest_detection() -> None:
    s = [0.0] * 20
    s[8] = s[9] = s[12] = 1.0
    single = [0.0] * 20
    single[8] = 1.0
    assert score(s, [Window(5, 14)], 0.5) == pytest.approx(score(single, [Window(5, 14)], 0.5))


def test_missed_window_costs_a_fn() -> None:
    assert score([0.0] * 20, [Window(5, 14)], 0.5) == -1.0
    assert score([0.0] * 20, [Window(5, 14)], 0.5, profile=LOW_FN) == -2.0


def test_fp_before_any_window_costs_full_weight() -> None:
    s = [0.0] * 30
    s[2] = 1.0
    assert score(s, [Window(10, 19)], 0.5) == pytest.approx(-STANDARD.a_fp - 1.0)
    assert score(s, [Window(10, 19)], 0.5, profile=LOW_FP) == pytest.approx(-0.22 - 1.0)


def test_fp_after_a_window_is_cheaper_near_it() -> None:
    values, owner = row_values(40, [Window(10, 19)], STANDARD)
    assert owner[15] == 0
    assert owner[20] == -1
    assert values[20] == pytest.approx(scaled_sigmoid(1 / 9) * 0.11)
    assert values[39] == pytest.approx(scaled_sigmoid(20 / 9) * 0.11)
    assert values[20] > values[30] > values[39] > -0.11


def test_probation_rows_are_not_scored() -> None:
    s = [0.0] * 30
    s[1] = 1.0  # inside probation: ignored
    assert score(s, [], 0.5, probation=5) == 0.0


def test_sweep_finds_best_global_threshold() -> None:
    a = [0.0] * 30
    a[12] = 0.9  # TP in window
    a[25] = 0.5  # FP below the TP score
    fs = prepare_file(np.asarray(a), [Window(10, 19)], 0, STANDARD)
    theta, raw = best_threshold([fs])
    assert 0.5 < theta <= 0.9
    assert raw == pytest.approx(score(a, [Window(10, 19)], 0.9))


def test_nothing_detected_is_a_candidate() -> None:
    a = [0.0] * 30
    a[3] = 1.0  # only an FP, no windows
    fs = prepare_file(np.asarray(a), [], 0, STANDARD)
    theta, raw = best_threshold([fs])
    assert raw == 0.0
    assert theta > 1.0


def test_normalised_score_bounds() -> None:
    assert normalised_score(2.0, 2, STANDARD) == 100.0
    assert normalised_score(-2.0, 2, STANDARD) == 0.0
    assert normalised_score(-4.0, 2, LOW_FN) == 0.0
