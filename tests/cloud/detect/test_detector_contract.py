"""One contract, every registered detector (river's check suite idea).

Causal, deterministic, never mutates its input or its state when scoring, scores in
[0, 1], survives NaN / missing metrics and constant series, silent during warm-up.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np
import pytest

from cloud.detect import TIME_KEY, Detector, create_detector, registered_detectors
from tests.cloud.detect.series import timestamps, with_spike, with_step

METRICS = ("a", "b")
N = 600


def samples(n: int = N, seed: int = 0) -> list[dict[str, float]]:
    t = timestamps(n)
    a = with_step(n, at=400, seed=seed)
    b = with_spike(n, at=450, seed=seed + 1)
    return [{TIME_KEY: float(t[i]), "a": float(a[i]), "b": float(b[i])} for i in range(n)]


def run(det: Detector, xs: list[dict[str, float]]) -> list[float]:
    out = []
    for x in xs:
        out.append(det.score_one(x))
        det.learn_one(x)
    return out


@pytest.fixture(params=registered_detectors())
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(name: str, seed: int = 0) -> Detector:
    return create_detector(name, METRICS, seed)


def test_registry_lists_the_builtin_detectors() -> None:
    assert {"surprise", "pca"} <= set(registered_detectors())


def test_is_a_detector(name: str) -> None:
    det = make(name)
    assert isinstance(det, Detector)
    assert det.warmup_samples >= 1


def test_scores_in_unit_interval(name: str) -> None:
    scores = run(make(name), samples())
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_silent_during_warmup(name: str) -> None:
    det = make(name)
    scores = run(det, samples())
    assert all(s == 0.0 for s in scores[: det.warmup_samples])


def test_causal_prefix_gives_same_scores(name: str) -> None:
    xs = samples()
    full = run(make(name), xs)
    prefix = run(make(name), xs[:470])
    assert prefix == full[:470]


def test_deterministic_with_seed(name: str) -> None:
    xs = samples()
    assert run(make(name, seed=7), xs) == run(make(name, seed=7), xs)


def test_never_mutates_input(name: str) -> None:
    xs = samples()
    before = copy.deepcopy(xs)
    run(make(name), xs)
    assert xs == before


def test_score_one_does_not_change_state(name: str) -> None:
    xs = samples()
    det = make(name)
    run(det, xs[:450])
    probe = xs[450]
    first = det.score_one(probe)
    for _ in range(5):
        det.score_one({**probe, "a": probe["a"] + 100.0})
    assert det.score_one(probe) == first
    twin = make(name)
    run(twin, xs[:450])
    assert run(det, xs[450:]) == run(twin, xs[450:])


def test_one_pass_step_scores_what_score_then_learn_scores(name: str) -> None:
    """Production scores with ``step_score``; the contract is stated on ``score_one`` and
    ``learn_one``. Both paths must give the same scores and leave the same state."""
    xs = samples()
    for i in range(0, N, 13):
        xs[i] = {**xs[i], "a": math.nan}
    stepped = make(name)
    assert [stepped.step_score(x) for x in xs] == run(make(name), xs)
    twin = make(name)
    run(twin, xs)
    probe = {**xs[-1], "a": xs[-1]["a"] + 50.0}
    assert stepped.score_one(probe) == twin.score_one(probe)


def test_survives_nan_and_missing_metrics(name: str) -> None:
    xs = samples()
    for i in range(0, N, 7):
        xs[i] = {**xs[i], "a": math.nan}
    for i in range(3, N, 11):
        xs[i] = {k: v for k, v in xs[i].items() if k != "b"}
    scores = run(make(name), xs)
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)


def test_constant_series_is_not_anomalous(name: str) -> None:
    t = timestamps(N)
    xs: list[Mapping[str, float]] = [{TIME_KEY: float(ti), "a": 3.0, "b": 3.0} for ti in t]
    scores = run(make(name), list(xs))  # type: ignore[arg-type]
    assert max(scores) == 0.0


def test_detects_a_large_step(name: str) -> None:
    det = make(name)
    scores = np.asarray(run(det, samples()))
    assert scores[400:410].max() > 2 * max(scores[det.warmup_samples : 390].max(), 0.05)
