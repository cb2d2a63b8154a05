"""Operating regimes learned from the data, and health signals standardised per regime.

A unit's sensors move far more with how it is run (altitude, throttle, load...) than
with wear. When the condition columns take a few discrete settings (C-MAPSS FD002 and
FD004 fly six), clustering them recovers the regimes, and standardising each signal with
its own regime's mean and spread leaves the part that wear moves. With one regime (FD001,
or no condition columns) this is a plain per-signal standardisation.

The number of regimes is proposed here (best silhouette over 2..8 clusters); whether to
use it or one regime is left to the caller's cross-validation, because a silhouette
always finds *some* best clustering, even in pure noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

__all__ = ["RegimeScaler", "propose_regime_count"]

MAX_REGIMES = 8
SILHOUETTE_SAMPLE = 3000
"""Rows the silhouette is computed on: it is quadratic in rows, and regimes are coarse."""


def _varying(conditions: np.ndarray) -> np.ndarray:
    """The condition columns that vary at all (a constant one cannot separate regimes)."""
    return conditions[:, np.ptp(conditions, axis=0) > 0]


def propose_regime_count(conditions: np.ndarray, seed: int) -> int:
    """The cluster count (2..8) with the best silhouette, or 1 with nothing to cluster."""
    varying = _varying(np.asarray(conditions, dtype=np.float64))
    distinct = np.unique(varying, axis=0).shape[0] if varying.size else 0
    if varying.shape[1] == 0 or distinct < 3:
        return 1
    rng = np.random.default_rng(seed)
    take = rng.choice(varying.shape[0], min(SILHOUETTE_SAMPLE, varying.shape[0]), replace=False)
    sample = StandardScaler().fit_transform(varying[take])
    best_k, best_score = 1, -1.0
    for k in range(2, min(MAX_REGIMES, distinct - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(sample)
        score = float(silhouette_score(sample, labels, random_state=seed))
        if score > best_score:
            best_k, best_score = k, score
    return best_k


class RegimeScaler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Rows in, standardised health signals out: per-regime mean and spread removed.

    Input rows hold all columns; ``condition_columns`` pick the operating settings, the
    rest are health signals. Signals that never vary within any regime are dropped
    (``keep_``): they carry no information and would only add split candidates.
    Stateless after :meth:`fit`; :meth:`transform` never mutates its input.
    """

    def __init__(
        self, condition_columns: Sequence[int] = (), n_regimes: int = 1, random_state: int = 0
    ) -> None:
        self.condition_columns = condition_columns
        self.n_regimes = n_regimes
        self.random_state = random_state

    def fit(self, rows: np.ndarray, y: object = None) -> Self:
        conditions, signals = self._split(rows)
        self.n_features_in_ = rows.shape[1]
        varying = _varying(conditions)
        clustered = self.n_regimes > 1 and varying.shape[1] > 0
        self.condition_mask_ = np.ptp(conditions, axis=0) > 0
        self.condition_scaler_ = StandardScaler().fit(varying) if clustered else None
        self.kmeans_ = (
            KMeans(n_clusters=self.n_regimes, n_init=3, random_state=self.random_state).fit(
                self.condition_scaler_.transform(varying)  # type: ignore[union-attr]
            )
            if clustered
            else None
        )
        labels = self._labels(conditions)
        regimes = int(labels.max()) + 1
        means = np.zeros((regimes, signals.shape[1]))
        stds = np.ones((regimes, signals.shape[1]))
        for r in range(regimes):
            members = signals[labels == r]
            if members.shape[0]:
                means[r] = members.mean(axis=0)
                stds[r] = members.std(axis=0)
        self.keep_ = np.any(stds > 1e-12 * (1.0 + np.abs(means)), axis=0)
        self.means_ = means[:, self.keep_]
        self.stds_ = np.where(stds[:, self.keep_] > 0, stds[:, self.keep_], 1.0)
        return self

    def transform(self, rows: np.ndarray) -> np.ndarray:
        conditions, signals = self._split(rows)
        labels = self._labels(conditions)
        kept = signals[:, self.keep_]
        result: np.ndarray = (kept - self.means_[labels]) / self.stds_[labels]
        return result

    @property
    def signals_kept(self) -> int:
        """Health signals left after dropping the constant ones."""
        return int(np.sum(self.keep_))

    def _split(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        columns = list(self.condition_columns)
        signal_mask = np.ones(rows.shape[1], dtype=bool)
        signal_mask[columns] = False
        return rows[:, columns], rows[:, signal_mask]

    def _labels(self, conditions: np.ndarray) -> np.ndarray:
        if self.kmeans_ is None:
            return np.zeros(conditions.shape[0], dtype=np.intp)
        scaled = self.condition_scaler_.transform(conditions[:, self.condition_mask_])  # type: ignore[union-attr]
        return np.asarray(self.kmeans_.predict(scaled), dtype=np.intp)
