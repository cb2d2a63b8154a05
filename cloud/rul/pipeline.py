"""One candidate RUL model end to end: rows → regime-standardised signals (plus, when
the candidate asks, a health index) → window features → gradient-boosted trees on the
capped remaining life.

The health index is a least-squares projection of the standardised signals onto the
capped remaining life, fitted on the training rows only: one column that pools the
signals the fleet wears through, so its level says how healthy a unit looks against the
whole fleet, new engines included, with far less noise than any one sensor. It enters
the window features like any signal (level, slopes, drift since the unit's start), which
is what trees cannot build from per-signal splits on their own.

Shared by the cross-validated search (which fits it once per fold and candidate) and by
the final model (fitted once on every run with the winning candidate), so what was
scored is exactly what is shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from cloud.rul.regimes import RegimeScaler
from cloud.rul.windows import trailing_features

__all__ = [
    "Candidate",
    "FittedPipeline",
    "fit_pipeline",
    "remaining_life",
    "run_features",
]


@dataclass(frozen=True)
class Candidate:
    """Every setting the search chooses. ``window`` is in rows, ``cap`` in time units."""

    regimes: int
    window: int
    cap: float
    leaves: int
    iterations: int
    learning_rate: float
    health_index: bool = False
    unit_weighted: bool = False
    """Train on the same number of rows from every unit (see :func:`training_rows`)."""

    def describe(self) -> dict[str, object]:
        """Plain values for reports and logs."""
        return {
            "regimes": self.regimes,
            "window": self.window,
            "rul_cap": round(self.cap, 1),
            "max_leaf_nodes": self.leaves,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "health_index": self.health_index,
            "unit_weighted": self.unit_weighted,
        }


@dataclass(frozen=True)
class FittedPipeline:
    """The fitted parts: scikit-learn estimators only (a storage layer can save them)."""

    scaler: RegimeScaler
    regressor: HistGradientBoostingRegressor
    window: int
    health_weights: np.ndarray | None = None
    """Intercept then one weight per kept signal, or None without a health index."""

    def features(self, runs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per run, the feature rows the regressor reads (one per history row)."""
        return run_features(self.scaler, runs, self.window, self.health_weights)

    def predict_rows(self, runs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per run, the predicted remaining life after every one of its rows."""
        blocks = self.features(runs)
        flat = np.asarray(self.regressor.predict(np.vstack(blocks)), dtype=np.float64)
        return np.split(np.maximum(flat, 0.0), np.cumsum([len(b) for b in blocks])[:-1])

    def predict_last(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The predicted remaining life after the last row of each history."""
        last = np.vstack([block[-1:] for block in self.features(histories)])
        return np.maximum(np.asarray(self.regressor.predict(last), dtype=np.float64), 0.0)


def remaining_life(rows: int) -> np.ndarray:
    """Remaining life after each row of a run to failure: 0 after the last row."""
    return np.arange(rows - 1, -1, -1, dtype=np.float64)


def run_features(
    scaler: RegimeScaler,
    runs: Sequence[np.ndarray],
    window: int,
    health_weights: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Window features per run, from regime-standardised signals (and the health index)."""
    return [trailing_features(_signals(scaler, run, health_weights), window) for run in runs]


def _signals(
    scaler: RegimeScaler, run: np.ndarray, health_weights: np.ndarray | None
) -> np.ndarray:
    signals: np.ndarray = scaler.transform(run)
    if health_weights is None:
        return signals
    index = health_weights[0] + signals @ health_weights[1:]
    return np.hstack([signals, index[:, None]])


def fit_health_index(signals: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares weights (intercept first) from standardised signals to the target."""
    design = np.hstack([np.ones((signals.shape[0], 1)), signals])
    weights, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.asarray(weights, dtype=np.float64)


def training_rows(life: int, shortest: int, equal_units: bool) -> np.ndarray:
    """Which rows of a ``life``-row run train the trees (a boolean mask).

    All of them, or with ``equal_units`` ``shortest`` rows evenly spread over the run, so
    every unit weighs the same however long it ran: the cross-validation cuts each unit
    once, and a long unit's many healthy rows would otherwise outvote short units on what
    a healthy-looking unit has left. Thinning rather than sample weights keeps the fit
    fast (weighted histogram boosting is several times slower) and loses little, since
    neighbouring rows of a unit are near copies.
    """
    mask = np.zeros(life, dtype=bool)
    if not equal_units or life <= shortest:
        mask[:] = True
        return mask
    mask[np.round(np.linspace(0, life - 1, shortest)).astype(np.intp)] = True
    return mask


def fit_pipeline(
    runs: Sequence[np.ndarray],
    candidate: Candidate,
    condition_columns: Sequence[int],
    seed: int,
) -> FittedPipeline:
    """Fit one candidate on ``runs`` (run to failure), every row a training example."""
    rows = np.vstack(runs)
    scaler = RegimeScaler(tuple(condition_columns), candidate.regimes, seed).fit(rows)
    target = np.minimum(np.concatenate([remaining_life(len(r)) for r in runs]), candidate.cap)
    health = fit_health_index(scaler.transform(rows), target) if candidate.health_index else None
    features = np.vstack(run_features(scaler, runs, candidate.window, health))
    shortest = min(len(r) for r in runs)
    keep = np.concatenate([training_rows(len(r), shortest, candidate.unit_weighted) for r in runs])
    regressor = HistGradientBoostingRegressor(
        max_iter=candidate.iterations,
        learning_rate=candidate.learning_rate,
        max_leaf_nodes=candidate.leaves,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    ).fit(features[keep], target[keep])
    return FittedPipeline(scaler, regressor, candidate.window, health)
