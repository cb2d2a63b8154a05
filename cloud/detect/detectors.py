"""Detector-protocol wrappers around the per-metric models, and their registration.

``surprise``  every metric's views in one :class:`~cloud.detect.univariate.UnivariateState`;
              the sample's score is its most surprising metric (the combined view the
              cloud uses).
``pca``       :class:`~cloud.detect.pca.PcaDetector` (multivariate T² + residual).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

from cloud.detect.base import TIME_KEY, Detector, metric_items, register
from cloud.detect.pca import PcaDetector
from cloud.detect.tail import MAX_SURPRISE
from cloud.detect.univariate import (
    BatchReadings,
    MetricReading,
    UnivariateConfig,
    UnivariateState,
)

__all__ = ["SurpriseDetector"]


class SurpriseDetector:
    """Per-metric self-calibrated surprise; score = max over metrics / MAX_SURPRISE.

    Metrics appear lazily: a metric first seen late gets its own row, starts its own
    warm-up and is silent until then. ``columns`` maps a metric to its row.
    """

    def __init__(
        self,
        config: UnivariateConfig | None = None,
        warmup_samples: int = 150,
    ) -> None:
        self.config = config or UnivariateConfig()
        self.warmup_samples = warmup_samples
        self.columns: dict[str, int] = {}
        self.state = UnivariateState(self.config, warmup_samples)

    # -- batches ---------------------------------------------------------------------
    def matrix(self, samples: Iterable[Mapping[str, float]]) -> np.ndarray:
        """(samples, metrics) values in column order, NaN where missing; registers new
        metrics (rows of their own, empty until they learn)."""
        columns = self.columns
        known = columns.keys()
        batch = list(samples)
        for x in batch:
            if not x.keys() <= known:  # rare: a metric seen for the first time
                for name in x:
                    if name != TIME_KEY and name not in columns:
                        columns[name] = len(columns)
        width = len(columns)
        if width > self.state.metrics:
            self.state.add_metrics(width - self.state.metrics)
        names = list(columns)
        # None (missing) becomes NaN in a float array; TIME_KEY is never a column.
        rows = [[x.get(name) for name in names] for x in batch]
        return np.array(rows, dtype=np.float64).reshape(len(batch), width)

    def align(self, names: Sequence[str], values: np.ndarray) -> np.ndarray:
        """A (samples, len(names)) matrix whose columns are ``names`` (NaN = absent) as a
        :meth:`matrix` in this detector's column order; registers new metrics."""
        columns = self.columns
        for name in names:
            if name not in columns:
                columns[name] = len(columns)
        width = len(columns)
        if width > self.state.metrics:
            self.state.add_metrics(width - self.state.metrics)
        order = [columns[name] for name in names]
        if len(order) == width and order == list(range(width)):
            return np.array(values, dtype=np.float64, order="C")  # the usual batch: a copy
        aligned = np.full((values.shape[0], width), np.nan)
        aligned[:, order] = values
        return aligned

    def step_many(
        self, ts: np.ndarray, values: np.ndarray, held: Collection[str] = ()
    ) -> BatchReadings:
        """Judge then learn a batch from :meth:`matrix` (one kernel call); the ``held``
        metrics are judged without being learned."""
        mask = None
        if held:
            mask = np.zeros(values.shape[1], dtype=np.bool_)
            mask[[self.columns[name] for name in held if name in self.columns]] = True
        return self.state.run(ts, values, judge=True, learn=True, held=mask)

    def readings(
        self, out: BatchReadings, i: int, at_least: float = 0.0
    ) -> list[tuple[str, MetricReading]]:
        """Sample ``i``'s readings by metric, in column order (those with a surprise of
        at least ``at_least``)."""
        row = out.surprise[i].tolist()
        return [(name, out.reading(i, m)) for name, m in self.columns.items() if row[m] >= at_least]

    # -- one sample at a time ----------------------------------------------------------
    def _one(self, x: Mapping[str, float], *, judge: bool, learn: bool) -> BatchReadings:
        t = np.array([float(x.get(TIME_KEY, 0.0))])
        if learn:
            values = self.matrix([x])
        else:  # reading must not change anything: unknown metrics are simply not judged
            values = np.full((1, len(self.columns)), np.nan)
            for name, v in metric_items(x):
                col = self.columns.get(name)
                if col is not None:
                    values[0, col] = v
        return self.state.run(t, values, judge=judge, learn=learn)

    def read(self, x: Mapping[str, float]) -> list[tuple[str, MetricReading]]:
        """Per-metric readings of a sample (metrics still warming up are left out)."""
        return self.readings(self._one(x, judge=True, learn=False), 0)

    def step(self, x: Mapping[str, float]) -> list[tuple[str, MetricReading]]:
        """``read`` then ``learn_one`` in one pass."""
        return self.readings(self._one(x, judge=True, learn=True), 0)

    def step_score(self, x: Mapping[str, float]) -> float:
        out = self._one(x, judge=True, learn=True)
        return _max_surprise(out.surprise[0]) / MAX_SURPRISE

    def surprise_one(self, x: Mapping[str, float]) -> float:
        """Largest per-metric surprise (−log10 tail probability) of a sample."""
        return _max_surprise(self._one(x, judge=True, learn=False).surprise[0])

    def score_one(self, x: Mapping[str, float]) -> float:
        return self.surprise_one(x) / MAX_SURPRISE

    def learn_one(self, x: Mapping[str, float]) -> None:
        self._one(x, judge=False, learn=True)


def _max_surprise(row: np.ndarray) -> float:
    best = 0.0
    for s in row.tolist():
        if s > best:  # NaN (no reading) never is
            best = s
    return float(best)


def _surprise(metrics: Sequence[str], seed: int) -> Detector:
    del metrics, seed  # deterministic and metric-agnostic
    return SurpriseDetector()


def _pca(metrics: Sequence[str], seed: int) -> Detector:
    return PcaDetector(metrics, warmup_samples=150, seed=seed)


register("surprise", _surprise)
register("pca", _pca)
