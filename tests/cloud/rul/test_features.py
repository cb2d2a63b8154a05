"""Wear specs and period features: physics-normalised, carried, NaN-free and causal, from
simulated run-to-failure histories and from hand-made samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rul.features import (
    DeviceHistory,
    _group_medians,
    condition_columns,
    feature_names,
    period_features,
    training_runs,
)
from cloud.rul.wear_spec import WearSpecError, load_wear_spec
from firmware_sim.wearout import LifeSpread, run_to_failure

HOUR_S = 3_600.0
EV = "evcharger-ec11"
HP = "heatpump-hp200"
T0 = 472_222 * HOUR_S
"""On the hour, so hand-made hours are periods."""


@pytest.fixture(scope="module")
def heat_pumps():
    spread = LifeSpread(scale_days=4.0, shape=3.0, min_days=2.0)
    return run_to_failure(HP, 3, seed=5, spread=spread, healthy_days=(1.0, 1.5), workers=1)


def test_every_bundled_spec_loads_and_names_its_columns():
    for model in (EV, HP):
        spec = load_wear_spec(model)
        assert spec.model == model
        assert spec.failure.event == "part_failed"
        names = feature_names(spec)
        assert len(names) == 4 * len(spec.indicators) + 2
        assert [names[i] for i in condition_columns(spec)] == ["load_level", "stale_periods"]


def test_a_bad_spec_is_refused_with_its_file_line_and_reason(tmp_path: Path):
    (tmp_path / "m1.yaml").write_text(
        "model: m1\ncomponent: c\nfailure: {signature: wear-out/c}\n"
        "load: {metric: x}\nindicators:\n  - {name: r, metric: y, kind: ratio}\n"
    )
    with pytest.raises(WearSpecError, match=r"m1.yaml:6: indicators.0: .*needs 'by'"):
        load_wear_spec("m1", tmp_path)
    (tmp_path / "m2.yaml").write_text("model: other\n")
    with pytest.raises(WearSpecError, match=r"m2\.yaml:1: component: Field required"):
        load_wear_spec("m2", tmp_path)
    with pytest.raises(WearSpecError, match=r"no wear spec for model 'm3'; known: \['m1', 'm2'\]"):
        load_wear_spec("m3", tmp_path)


def test_compressor_wear_shows_as_falling_efficiency(heat_pumps):
    spec = load_wear_spec(HP)
    names = feature_names(spec)
    for run in heat_pumps:
        rows = period_features(run, spec, HOUR_S)
        assert np.isfinite(rows).all()
        healthy = rows[: int((run.wear_start_s - run.ts[0]) // HOUR_S) - 1]
        last_day = rows[-24:]
        eff = names.index("carnot_efficiency_change")
        assert last_day[:, eff].mean() < healthy[:, eff].mean() - 0.02
        assert rows[-1, eff] < -0.04, "some 5 % of the efficiency is gone at failure"
        assert abs(healthy[:, eff]).max() < 0.02
        assert rows[-1, names.index("carnot_efficiency_trend")] < 0


def test_connector_rise_per_a2_grows_towards_failure():
    spread = LifeSpread(scale_days=5.0, shape=3.0, min_days=3.0)
    runs = run_to_failure(EV, 2, seed=3, spread=spread, healthy_days=(2.0, 3.0), workers=1)
    spec = load_wear_spec(EV)
    rise = feature_names(spec).index("connector_rise_per_a2_change")
    for rows in training_runs(runs, spec, HOUR_S):
        assert np.isfinite(rows).all()
        assert rows[-1, rise] > 0.1, "contacts at failure heat clearly more per A²"
        assert abs(rows[: len(rows) // 4, rise]).max() < 0.1


def test_training_runs_end_at_the_failure_and_skip_unfailed(heat_pumps):
    spec = load_wear_spec(HP)
    runs = training_runs(heat_pumps, spec, HOUR_S)
    assert len(runs) == len(heat_pumps)
    for run, rows in zip(heat_pumps, runs, strict=True):
        last_period = np.floor(run.ts[run.ts < run.failure_s][-1] / HOUR_S)
        first_period = np.floor(run.ts[0] / HOUR_S)
        assert len(rows) <= last_period - first_period + 1
        assert rows.shape[1] == len(feature_names(spec))
    unfailed = DeviceHistory("d", heat_pumps[0].ts, heat_pumps[0].metrics, None)
    assert training_runs([unfailed], spec, HOUR_S) == []


def test_rows_are_causal_a_longer_history_only_adds_rows(heat_pumps):
    spec = load_wear_spec(HP)
    run = heat_pumps[0]
    whole = period_features(run, spec, HOUR_S)
    cut_at = run.ts[0] + 30 * HOUR_S
    keep = run.ts < cut_at
    part = period_features(
        DeviceHistory("d", run.ts[keep], {k: v[keep] for k, v in run.metrics.items()}), spec, HOUR_S
    )
    # every finished period reads the same; the one in progress at the cut may change
    np.testing.assert_allclose(part[:-1], whole[: len(part) - 1])


def charger_samples(hours: list[tuple[float, float]]) -> DeviceHistory:
    """(current A, connector °C) held for each hour, sampled every 10 minutes."""
    rows = []
    for hour, (current, temp) in enumerate(hours):
        for k in range(6):
            metrics = {"current_a": current, "current_limit_a": 16.0, "connector_temp_c": temp}
            rows.append((T0 + hour * HOUR_S + k * 600.0, metrics))
    return DeviceHistory.from_samples("ev-1", rows)


def test_periods_without_load_carry_the_last_value_and_count_staleness(tmp_path: Path):
    (tmp_path / "ev.yaml").write_text(
        "model: ev\ncomponent: connector\nfailure: {signature: wear-out/connector}\n"
        "load: {metric: current_a, share_of: current_limit_a, share: 0.6}\n"
        "indicators:\n"
        "  - {name: rise, metric: connector_temp_c, kind: rise_per_square, by: current_a}\n"
        "baseline_periods: 1\nsmoothing_periods: 1\ntrend_periods: 2\n"
    )
    spec = load_wear_spec("ev", tmp_path)
    history = charger_samples([(0, 10.0), (16, 15.12), (0, 10.0), (0, 10.0), (16, 20.24)])
    rows = period_features(history, spec, HOUR_S)
    # the first hour has no load: rows start at the second
    assert rows.shape == (4, 6)
    np.testing.assert_allclose(rows[:, 0], [0.02, 0.02, 0.02, 0.04])
    np.testing.assert_allclose(rows[:, 5], [0, 1, 2, 0])
    np.testing.assert_allclose(rows[:, 4], [16, 16, 16, 16])
    assert rows[3, 2] > 0.3, "the rise doubled against the baseline"
    idle = charger_samples([(0, 10.0)] * 3)
    assert period_features(idle, spec, HOUR_S).shape == (0, 6)
    with pytest.raises(ValueError, match="period_s"):
        period_features(history, spec, 0.0)


def test_missing_or_odd_values_never_make_nan_rows():
    spec = load_wear_spec(HP)
    rows = [
        (T0 + i * 600.0, {"compressor_speed_pct": 60.0, "cop": 3.0, "supply_temp_c": 35.0})
        for i in range(30)
    ]
    rows[5][1]["cop"] = "n/a"  # type: ignore[assignment]
    history = DeviceHistory.from_samples("hp-1", rows)
    out = period_features(history, spec, HOUR_S)
    assert out.size == 0 or np.isfinite(out).all()


@given(
    counts=st.lists(st.integers(0, 7), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
    nan_share=st.sampled_from([0.0, 0.3, 0.9]),
)
@settings(max_examples=60, deadline=None)
def test_period_medians_are_nanmedian_per_period(counts: list[int], seed: int, nan_share: float):
    """The vectorised per-period median gives exactly what np.nanmedian gives period by
    period, including periods without samples and columns without a value in one."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(counts)), counts)
    values = rng.normal(size=(groups.size, 3)).round(1)  # ties on purpose
    values[rng.random(values.shape) < nan_share] = np.nan
    got = _group_medians(groups, values, len(counts))
    for g, n in enumerate(counts):
        block = values[groups == g]
        for j in range(3):
            column = block[:, j][~np.isnan(block[:, j])] if n else np.empty(0)
            expected = float(np.median(column)) if column.size else np.nan
            assert got[g, j] == expected or (np.isnan(expected) and np.isnan(got[g, j]))
