"""FleetModel on synthetic fleets: broken relationships, naming, robustness, gaps, speed."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from cloud.learning import FitOptions, FleetModel, NotEnoughHistory
from tests.cloud.learning.fleet_data import fleet, healthy, loose_connector


@pytest.fixture(scope="module")
def model() -> FleetModel:
    return FleetModel.fit("evc-22", fleet(seed=1, devices_n=5, per_device=800))


def test_flags_a_broken_relationship_that_no_single_metric_shows(model: FleetModel) -> None:
    training = fleet(seed=1, devices_n=5, per_device=800)
    faults = loose_connector(np.random.default_rng(2), 50)
    for sample in faults:
        for metric, value in sample.items():
            values = [s[metric] for s in training]
            assert np.quantile(values, 0.01) < value < np.quantile(values, 0.99), metric
    judged = [model.score_one(s) for s in faults]
    assert all(j.is_anomaly for j in judged)
    assert all(j.score > 0.999 for j in judged)
    assert all(j.top_metric == "connector_temp" for j in judged)
    first = judged[0]
    assert first.contributions[0][1] > 0  # hotter than the relationship predicts
    expected_temp = 25.0 + 1.5 * faults[0]["current"]  # the fleet's relationship, ±offsets
    expected = model.expected(faults[0])
    assert expected["connector_temp"] == pytest.approx(expected_temp, abs=4.0)
    assert first.surprise > 3.5  # the deciding scale of cloud.detect


def test_healthy_samples_from_unseen_devices_rarely_alarm(model: FleetModel) -> None:
    rng = np.random.default_rng(3)
    held_out = [s for d in range(4) for s in healthy(rng, 500, offset=d - 1.5)]
    scores = model.score_many(model.matrix(held_out))
    assert scores.is_anomaly.mean() < 0.02
    assert scores.score.min() >= 0.0
    assert scores.score.max() < 1.0
    assert 0.3 < float(np.median(scores.score)) < 0.7


def test_metric_selection_is_fixed_sorted_and_skips_rare_and_constant_metrics() -> None:
    samples = fleet(seed=4, devices_n=3, per_device=300)
    for i, sample in enumerate(samples):
        sample["firmware_flag"] = 1.0
        if i % 2:
            sample["rare"] = float(i)
    fitted = FleetModel.fit("evc-22", samples)
    assert fitted.metrics == ("connector_temp", "current", "humidity", "power")
    assert fitted.subspace.has_residual


def test_contaminated_history_still_learns_the_healthy_relationship() -> None:
    rng = np.random.default_rng(5)
    clean = fleet(seed=5, devices_n=10, per_device=600)
    contaminated = clean + loose_connector(rng, 90)  # one faulty device, 1.5 % of rows
    robust = FleetModel.fit("evc-22", contaminated)
    reference = FleetModel.fit("evc-22", clean)
    assert robust.spe_limit < 1.5 * reference.spe_limit
    faults = loose_connector(np.random.default_rng(6), 30)
    assert all(robust.score_one(s).is_anomaly for s in faults)
    assert all(robust.score_one(s).top_metric == "connector_temp" for s in faults)


def test_untrimmed_fit_would_have_been_fooled_by_the_same_contamination() -> None:
    """Guards the test above: without trimming the threshold absorbs the faults."""
    rng = np.random.default_rng(5)
    contaminated = fleet(seed=5, devices_n=10, per_device=600) + loose_connector(rng, 90)
    naive = FleetModel.fit("evc-22", contaminated, FitOptions(trim_fraction=0.0))
    robust = FleetModel.fit("evc-22", contaminated)
    assert naive.subspace.noise_variance > 2 * robust.subspace.noise_variance


def test_missing_and_non_finite_metrics_are_scored_from_what_is_present(
    model: FleetModel,
) -> None:
    fault = loose_connector(np.random.default_rng(7), 1)[0]
    without_power = {k: v for k, v in fault.items() if k != "power"}
    judged = model.score_one(without_power)
    assert judged.missing == ("power",)
    assert judged.is_anomaly
    assert {m for m, _ in judged.contributions} == {"connector_temp", "current", "humidity"}
    poisoned = {**fault, "power": math.nan, "humidity": math.inf, "unknown": 3.0}
    assert model.score_one(poisoned).missing == ("humidity", "power")
    nothing = model.score_one({"unknown": 1.0})
    assert (nothing.score, nothing.is_anomaly, nothing.contributions) == (0.0, False, [])


def test_score_many_matches_score_one_with_and_without_gaps(model: FleetModel) -> None:
    rng = np.random.default_rng(8)
    batch = healthy(rng, 40) + loose_connector(rng, 10)
    for i in range(0, 50, 3):
        batch[i].pop("power")
    scores = model.score_many(model.matrix(batch))
    for i, sample in enumerate(batch):
        one = model.score_one(sample)
        assert one.score == pytest.approx(scores.score[i], abs=1e-12)
        assert one.spe == pytest.approx(scores.spe[i], rel=1e-9, abs=1e-12)
        assert one.is_anomaly == bool(scores.is_anomaly[i])


def test_a_batch_of_mixed_gaps_scores_each_row_as_it_would_alone(model: FleetModel) -> None:
    rng = np.random.default_rng(11)
    batch = healthy(rng, 30) + loose_connector(rng, 6)
    for i in range(0, 36, 4):
        batch[i].pop("power")
    for i in range(1, 36, 5):
        batch[i].pop("current")
    batch[2] = {}  # nothing the model knows: scores 0
    data = model.matrix(batch)
    together = model.score_many(data)
    for i in range(len(batch)):
        alone = model.score_many(data[i : i + 1])
        assert together.score[i] == pytest.approx(alone.score[0], abs=1e-12)
        assert together.spe[i] == pytest.approx(alone.spe[0], rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(together.residuals[i], alone.residuals[0], rtol=1e-9)
    assert (together.score[2], together.t2[2]) == (0.0, 0.0)


def test_the_calibrated_score_of_a_value_does_not_depend_on_its_batch(model: FleetModel) -> None:
    """Within the body and in the tail, alone or beside each other: one curve."""
    calibration = model.calibration
    values = np.array([0.0, 0.3, 1.0, calibration.u, calibration.u * 1.5, calibration.u * 40])
    together = calibration.cdf(values)
    alone = np.concatenate([calibration.cdf(values[i : i + 1]) for i in range(len(values))])
    np.testing.assert_array_equal(together, alone)
    assert (np.diff(together) >= 0).all()
    assert together[-1] > together[-2] > calibration.cdf(np.array([calibration.u]))[0]


def test_a_batch_held_as_columns_gives_the_matrix_of_its_mappings(model: FleetModel) -> None:
    batch = healthy(np.random.default_rng(12), 8)
    batch[3]["power"] = math.inf
    batch[5].pop("current")
    names = ["uptime_s", *reversed(model.metrics)]
    columns = np.array([[s.get(n, math.nan) for n in names] for s in batch])
    columns[:, 0] = np.arange(8.0)
    kept = [{k: v for k, v in s.items() if k != "power"} for s in batch]
    from_columns = model.matrix_from_columns(names, columns, leave_out={"power"})
    np.testing.assert_array_equal(from_columns, model.matrix(kept))


def test_score_many_is_fast_enough_for_fleet_batches(model: FleetModel) -> None:
    data = model.matrix(fleet(seed=9, devices_n=5, per_device=10_000))
    data[::7, 3] = np.nan
    started = time.perf_counter()
    model.score_many(data)
    rate = len(data) / (time.perf_counter() - started)
    assert rate > 20_000, f"{rate:.0f} samples/s"


def test_too_little_history_is_refused_with_a_clear_reason() -> None:
    with pytest.raises(NotEnoughHistory, match="not enough history for device model 'x'"):
        FleetModel.fit("x", fleet(seed=10, devices_n=1, per_device=10))
    with pytest.raises(NotEnoughHistory, match="no metric"):
        FleetModel.fit("x", [{"a": 1.0}, {"b": 2.0}])


def test_the_relations_view_names_the_metric_its_others_say_is_off(model: FleetModel) -> None:
    """A loose connector is hot for its current: the connector temperature lies far from
    what current and power predict, rarer than any healthy device's, while the metrics
    nothing predicts (humidity) carry no such view."""
    faults = model.score_many(model.matrix(loose_connector(np.random.default_rng(2), 50)))
    column = {m: j for j, m in enumerate(model.metrics)}
    assert (faults.loo_surprise[:, column["connector_temp"]] > 6.0).all()
    assert (faults.loo[:, column["connector_temp"]] > 0).all()  # hotter than predicted
    assert (faults.loo_surprise[:, column["humidity"]] == 0.0).all()
    rng = np.random.default_rng(3)
    held_out = [s for d in range(4) for s in healthy(rng, 500, offset=d - 1.5)]
    judged = model.score_many(model.matrix(held_out))
    assert (judged.loo_surprise.max(axis=1) >= 5.0).mean() < 0.002


def test_only_metrics_the_others_predict_get_a_relations_view() -> None:
    """Humidity is predicted by nothing and a plug state has two values: neither can
    break a relation, so neither is judged by one."""
    rows = [dict(r, plugged=float(r["current"] > 12)) for r in fleet(4, 5, 400)]
    fitted = FleetModel.fit("evc-22", rows)
    assert sorted(fitted.loo_calibration) == ["connector_temp", "current", "power"]
    assert "plugged" in fitted.metrics


def test_the_relations_calibration_survives_a_round_trip_and_old_files_still_load(
    model: FleetModel,
) -> None:
    samples = model.matrix(loose_connector(np.random.default_rng(5), 20))
    again = FleetModel.from_payload(model.to_payload())
    assert np.array_equal(
        again.score_many(samples).loo_surprise, model.score_many(samples).loo_surprise
    )
    old = model.to_payload()
    del old["loo_calibration"]  # a model saved before the relations view
    before = FleetModel.from_payload(old).score_many(samples)
    assert (before.loo_surprise == 0.0).all()
    assert np.array_equal(before.score, model.score_many(samples).score)


def test_a_relations_surprise_is_its_calibrations_tail(model: FleetModel) -> None:
    judged = model.score_many(model.matrix(loose_connector(np.random.default_rng(6), 30)))
    j = model.metrics.index("connector_temp")
    distance = np.abs(judged.loo[:, j])
    calibration = model.loo_calibration["connector_temp"]
    tail = 1.0 - calibration.cdf(distance)
    expected = np.where(distance > calibration.u, -np.log10(tail), 0.0)
    assert judged.loo_surprise[:, j] == pytest.approx(expected)
