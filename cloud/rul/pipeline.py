"""One candidate RUL model end to end: rows → regime-standardised signals → window
features → gradient-boosted trees on the capped remaining life.

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

    def describe(self) -> dict[str, object]:
        """Plain values for reports and logs."""
        return {
            "regimes": self.regimes,
            "window": self.window,
            "rul_cap": round(self.cap, 1),
            "max_leaf_nodes": self.leaves,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
        }


@dataclass(frozen=True)
class FittedPipeline:
    """The fitted parts: scikit-learn estimators only (a storage layer can save them)."""

    scaler: RegimeScaler
    regressor: HistGradientBoostingRegressor
    window: int

    def features(self, runs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per run, the feature rows the regressor reads (one per history row)."""
        return run_features(self.scaler, runs, self.window)

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


def run_features(scaler: RegimeScaler, runs: Sequence[np.ndarray], window: int) -> list[np.ndarray]:
    """Window features per run, from regime-standardised signals."""
    return [trailing_features(scaler.transform(run), window) for run in runs]


def fit_pipeline(
    runs: Sequence[np.ndarray],
    candidate: Candidate,
    condition_columns: Sequence[int],
    seed: int,
) -> FittedPipeline:
    """Fit one candidate on ``runs`` (run to failure), every row a training example."""
    scaler = RegimeScaler(tuple(condition_columns), candidate.regimes, seed).fit(np.vstack(runs))
    features = np.vstack(run_features(scaler, runs, candidate.window))
    target = np.minimum(np.concatenate([remaining_life(len(r)) for r in runs]), candidate.cap)
    regressor = HistGradientBoostingRegressor(
        max_iter=candidate.iterations,
        learning_rate=candidate.learning_rate,
        max_leaf_nodes=candidate.leaves,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    ).fit(features, target)
    return FittedPipeline(scaler, regressor, candidate.window)
