"""RulModel on synthetic run-to-failure fleets (no data set needed): better than the
mean-life rule, honest intervals, bad input refused, reproducible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cloud.rul.model import RulDataError, RulModel, RulPrediction, SearchGrid
from tests.cloud.rul.synthetic import fleet, unit_history

CONDITIONS = (0, 1)


@pytest.fixture(scope="module")
def model() -> RulModel:
    return RulModel.fit(fleet(40, seed=1), condition_columns=CONDITIONS, grid=SearchGrid.small())


def held_out(units: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Units cut at a random row: histories, their ages, their true remaining lives."""
    rng = np.random.default_rng(seed)
    histories, ages, truth = [], [], []
    for _ in range(units):
        life = int(rng.integers(80, 201))
        cut = int(rng.integers(1, life + 1))
        histories.append(unit_history(rng, life, truncate_at=cut))
        ages.append(cut)
        truth.append(life - cut)
    return histories, np.array(ages, dtype=float), np.array(truth, dtype=float)


def test_beats_the_mean_life_rule_by_a_clear_margin(model: RulModel) -> None:
    train_lives = np.array([len(r) for r in fleet(40, seed=1)])
    histories, ages, truth = held_out(300, seed=7)
    near = truth < 80  # where a unit's wear shows; far out both only guess
    predicted = np.array([p.median for p in model.predict_many(histories)])
    baseline = np.maximum(train_lives.mean() - ages, 0.0)
    model_rmse = np.sqrt(np.mean((predicted[near] - truth[near]) ** 2))
    baseline_rmse = np.sqrt(np.mean((baseline[near] - truth[near]) ** 2))
    assert model_rmse < 0.5 * baseline_rmse, (model_rmse, baseline_rmse)


def test_intervals_cover_about_their_nominal_share(model: RulModel) -> None:
    histories, _, truth = held_out(400, seed=8)
    predictions = model.predict_many(histories)
    inside = [p.low <= t <= p.high for p, t in zip(predictions, truth, strict=True)]
    assert all(p.coverage == 0.8 for p in predictions)
    assert 0.7 <= np.mean(inside) <= 0.92
    assert all(0.0 <= p.low <= p.median <= p.high for p in predictions)


def test_chance_within_is_a_monotone_probability(model: RulModel) -> None:
    histories, _, _ = held_out(20, seed=9)
    for prediction in model.predict_many(histories):
        horizons = np.linspace(-10.0, prediction.high * 2 + 10.0, 200)
        chances = [prediction.chance_within(h) for h in horizons]
        assert all(0.0 <= c <= 1.0 for c in chances)
        assert all(a <= b for a, b in itertools.pairwise(chances))
        assert prediction.chance_within(prediction.median) == pytest.approx(0.5)


def test_chance_within_matches_the_interval_quantiles() -> None:
    p = RulPrediction(median=50.0, low=30.0, high=90.0, coverage=0.8)
    assert p.chance_within(30.0) == pytest.approx(0.1)
    assert p.chance_within(90.0) == pytest.approx(0.9)
    assert p.chance_within(-1.0) == 0.0
    point = RulPrediction(median=5.0, low=5.0, high=5.0, coverage=0.8)
    assert point.chance_within(4.9) == 0.0
    assert point.chance_within(5.0) == 1.0


def test_predicts_from_a_single_row_and_reports_its_choices(model: RulModel) -> None:
    one_row = fleet(1, seed=3)[0][:1]
    assert model.predict(one_row).median >= 0.0
    choices = model.choices
    assert {"window", "rul_cap", "regimes", "cv_rmse", "signals_kept"} <= set(choices)
    assert choices["ensemble"] == 3  # the three fold models, averaged
    assert choices["health_index"] is True
    assert choices["signals_kept"] == 4  # the constant column is dropped
    assert choices["regimes"] in (1, 2)


def test_same_seed_same_model() -> None:
    runs = fleet(12, seed=4)
    histories, _, _ = held_out(10, seed=5)
    first = RulModel.fit(runs, condition_columns=CONDITIONS, seed=3, grid=SearchGrid.small())
    second = RulModel.fit(runs, condition_columns=CONDITIONS, seed=3, grid=SearchGrid.small())
    assert first.predict_many(histories) == second.predict_many(histories)
    assert dict(first.choices) == dict(second.choices)


@pytest.mark.parametrize(
    ("runs", "kwargs", "message"),
    [
        ([], {}, "at least 3 run-to-failure"),
        ([np.ones((5, 3))] * 2, {}, "at least 3"),
        ([np.ones((5, 3)), np.ones((0, 3)), np.ones((5, 3))], {}, "run 1 is empty"),
        ([np.ones((5, 3)), np.ones((5, 4)), np.ones((5, 3))], {}, "run 1 has 4 columns"),
        ([np.ones((5, 3)), np.ones(5), np.ones((5, 3))], {}, "run 1 must be 2-D"),
        (
            [np.ones((5, 3)), np.ones((5, 3)), np.array([[1.0, np.nan, 2.0]])],
            {},
            "run 2 has a missing or infinite value at row 0, column 1",
        ),
        ([np.ones((5, 3))] * 3, {"condition_columns": (3,)}, "condition_columns"),
        ([np.ones((5, 3))] * 3, {"condition_columns": (0, 0)}, "distinct"),
        ([np.ones((5, 2))] * 3, {"condition_columns": (0, 1)}, "no health signal"),
        ([np.ones((5, 3))] * 3, {"coverage": 1.0}, "coverage"),
        ([[["a", "b"]]] * 3, {}, "run 0 is not numeric"),
    ],
)
def test_bad_runs_are_refused_with_a_reason(runs, kwargs, message) -> None:
    with pytest.raises(RulDataError, match=message):
        RulModel.fit(runs, grid=SearchGrid.small(), **kwargs)


def test_bad_histories_are_refused_with_a_reason(model: RulModel) -> None:
    with pytest.raises(RulDataError, match="history 0 has 3 columns, expected 7"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(RulDataError, match="history 1 is empty"):
        model.predict_many([np.ones((4, 7)), np.ones((0, 7))])
    with pytest.raises(RulDataError, match="missing or infinite"):
        model.predict(np.full((2, 7), np.inf))
    assert model.predict_many([]) == []
