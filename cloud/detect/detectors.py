"""Detector-protocol wrappers around the per-metric models, and their registration.

``surprise``  one :class:`~cloud.detect.univariate.MetricModel` per metric; the sample's
              score is its most surprising metric (the combined view the cloud uses).
``pca``       :class:`~cloud.detect.pca.PcaDetector` (multivariate T² + residual).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloud.detect.base import TIME_KEY, Detector, metric_items, register
from cloud.detect.pca import PcaDetector
from cloud.detect.tail import MAX_SURPRISE
from cloud.detect.univariate import MetricModel, MetricReading, UnivariateConfig

__all__ = ["SurpriseDetector"]


class SurpriseDetector:
    """Per-metric self-calibrated surprise; score = max over metrics / MAX_SURPRISE.

    Metrics appear lazily: a metric first seen late starts its own warm-up and is silent
    until then.
    """

    def __init__(
        self,
        config: UnivariateConfig | None = None,
        warmup_samples: int = 150,
    ) -> None:
        self.config = config or UnivariateConfig()
        self.warmup_samples = warmup_samples
        self.models: dict[str, MetricModel] = {}

    def read(self, x: Mapping[str, float]) -> list[tuple[str, MetricReading]]:
        """Per-metric readings of a sample (metrics still warming up are left out)."""
        t = float(x.get(TIME_KEY, 0.0))
        out = []
        for name, v in metric_items(x):
            model = self.models.get(name)
            if model is None or model.n < self.warmup_samples:
                continue
            out.append((name, model.read(t, v)))
        return out

    def step(self, x: Mapping[str, float]) -> list[tuple[str, MetricReading]]:
        """``read`` then ``learn_one`` in one pass (what StreamMonitor calls per sample)."""
        t = float(x.get(TIME_KEY, 0.0))
        out = []
        warmup = self.warmup_samples
        for name, v in metric_items(x):
            model = self.models.get(name)
            if model is None:
                model = self.models[name] = MetricModel(self.config)
            if model.n < warmup:
                model.learn(t, v)
            else:
                out.append((name, model.step(t, v)))
        return out

    def step_score(self, x: Mapping[str, float]) -> float:
        return max((r.surprise for _, r in self.step(x)), default=0.0) / MAX_SURPRISE

    def surprise_one(self, x: Mapping[str, float]) -> float:
        """Largest per-metric surprise (−log10 tail probability) of a sample."""
        best = 0.0
        for _, reading in self.read(x):
            best = max(best, reading.surprise)
        return best

    def score_one(self, x: Mapping[str, float]) -> float:
        return self.surprise_one(x) / MAX_SURPRISE

    def learn_one(self, x: Mapping[str, float]) -> None:
        t = float(x.get(TIME_KEY, 0.0))
        for name, v in metric_items(x):
            model = self.models.get(name)
            if model is None:
                model = self.models[name] = MetricModel(self.config)
            model.learn(t, v)


def _surprise(metrics: Sequence[str], seed: int) -> Detector:
    del metrics, seed  # deterministic and metric-agnostic
    return SurpriseDetector()


def _pca(metrics: Sequence[str], seed: int) -> Detector:
    return PcaDetector(metrics, warmup_samples=150, seed=seed)


register("surprise", _surprise)
register("pca", _pca)
