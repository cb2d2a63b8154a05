"""One stream (a device, or a CSV file): combined scoring, decision and explanation.

:class:`StreamMonitor` is what the cloud keeps per device and what ``aftercare detect``
runs over a file, so both give the same answer for the same samples. It combines the
per-metric :class:`~cloud.detect.detectors.SurpriseDetector` with, when a stream has
several metrics, the multivariate :class:`~cloud.detect.pca.PcaDetector`; the combined
surprise goes through an :class:`~cloud.detect.decide.AlertState`.

Guarantees: causal (an assessment depends only on samples up to it), deterministic,
never mutates its input, no I/O and no clock reads (time comes with each sample).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cloud.detect.base import TIME_KEY
from cloud.detect.decide import AlertPolicy, AlertState
from cloud.detect.detectors import SurpriseDetector
from cloud.detect.pca import PcaDetector
from cloud.detect.tail import MAX_SURPRISE
from cloud.detect.univariate import BatchReadings, MetricReading, UnivariateConfig

__all__ = [
    "Assessment",
    "Contribution",
    "InvalidSample",
    "MonitorConfig",
    "StreamMonitor",
]


class InvalidSample(ValueError):
    """A sample the monitor cannot place in time (timestamp not a finite number)."""


@dataclass(frozen=True)
class MonitorConfig:
    """Everything that shapes a monitor; the defaults are what the cloud and CLI use."""

    warmup_samples: int = 150
    multivariate: bool = True
    univariate: bool = True
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    univariate_config: UnivariateConfig = field(default_factory=UnivariateConfig)


@dataclass(frozen=True)
class Contribution:
    """Why a sample looked anomalous: one metric (or the metric set, ``"*"``).

    ``z`` is the robust distance from the metric's learned baseline (in units of its
    typical deviation; for ``"*"`` the root of the PCA statistic), ``detector`` the view
    that fired (``level``, ``daily``, ``weekly``, ``burst``, ``drift``, ``pca_t2``,
    ``pca_spe``), ``surprise`` its −log10 tail probability.
    """

    metric: str
    z: float
    baseline: float
    detector: str
    surprise: float


@dataclass(frozen=True)
class Assessment:
    """Verdict on one sample. ``score`` in [0, 1]; ``contributions`` only when anomalous."""

    ts: float
    score: float
    is_anomaly: bool
    alerted: bool
    surprise: float
    contributions: tuple[Contribution, ...] = ()


class StreamMonitor:
    """Scores one stream's samples in order; keep one instance per device.

    ``metrics`` fixes the metric set of the multivariate model; when omitted it is taken
    from the first sample. Metrics not in the set are still judged one by one.
    """

    def __init__(
        self, metrics: Sequence[str] | None = None, config: MonitorConfig | None = None
    ) -> None:
        self.config = config or MonitorConfig()
        self.metrics: tuple[str, ...] | None = tuple(metrics) if metrics is not None else None
        self.univariate = SurpriseDetector(
            self.config.univariate_config, warmup_samples=self.config.warmup_samples
        )
        self.pca: PcaDetector | None = None
        self.decision = AlertState(self.config.policy)
        self.last_ts = float("-inf")
        self.samples = 0
        if self.metrics is not None:
            self._init_pca(self.metrics)

    def _init_pca(self, metrics: tuple[str, ...]) -> None:
        if self.config.multivariate and len(metrics) >= 2:
            self.pca = PcaDetector(metrics, warmup_samples=self.config.warmup_samples)

    def update(self, ts: float, metrics: Mapping[str, float]) -> Assessment:
        """Judge one sample, then learn from it.

        Samples are taken in call order (the stream's order, e.g. the agent's sequence
        numbers); a timestamp may step back (clock corrections) and is then only used for
        seasonal phase. Raises InvalidSample for a non-finite timestamp.
        """
        return self.update_many([(ts, metrics)])[0]

    def update_many(self, samples: Iterable[tuple[float, Mapping[str, float]]]) -> list[Assessment]:
        """Judge then learn a run of samples in order: the same assessments as calling
        :meth:`update` for each, with one kernel call for every metric of the batch.

        Raises InvalidSample, before learning any of them, if a timestamp is not finite.
        """
        batch = list(samples)
        for ts, _ in batch:
            if not ts - ts == 0.0:
                raise InvalidSample(f"timestamp {ts!r} is not a finite number of seconds")
        if not batch:
            return []
        if self.metrics is None:
            self.metrics = tuple(k for k in batch[0][1] if k != TIME_KEY)
            self._init_pca(self.metrics)
        times = np.array([float(ts) for ts, _ in batch])
        values = self.univariate.matrix(m for _, m in batch) if self.config.univariate else None
        return self._assess(times, values, batch)

    def update_columns(
        self,
        times: Sequence[float],
        names: Sequence[str],
        values: np.ndarray,
        held: Collection[str] = (),
    ) -> list[Assessment]:
        """:meth:`update_many` for a batch already in a matrix (rows = samples, columns =
        ``names``, NaN = absent): the same assessments, without a mapping per sample.
        For monitors of one metric at a time (``multivariate=False``). The ``held``
        metrics are judged but not learned from: their baselines stay as they were."""
        if self.pca is not None or self.config.multivariate:
            raise ValueError("update_columns serves per-metric monitors only")
        stamps = np.asarray(times, dtype=np.float64)
        if not np.isfinite(stamps).all():
            raise InvalidSample("a timestamp is not a finite number of seconds")
        if len(stamps) == 0:
            return []
        if self.metrics is None:
            present = ~np.isnan(values[0])
            self.metrics = tuple(n for n, here in zip(names, present, strict=True) if here)
        aligned = self.univariate.align(names, values) if self.config.univariate else None
        return self._assess(stamps, aligned, None, held)

    def _assess(
        self,
        times: np.ndarray,
        values: np.ndarray | None,
        batch: list[tuple[float, Mapping[str, float]]] | None,
        held: Collection[str] = (),
    ) -> list[Assessment]:
        univariate = self.univariate
        out = None
        if values is not None:
            out = univariate.step_many(times, values, held)
            best = np.fmax.reduce(out.surprise, axis=1, initial=0.0).tolist()
        else:
            best = [0.0] * len(times)
        pca = self.pca
        if pca is None:
            return self._assess_per_metric(times, out, best)
        decide = self.decision.step
        assessments = []
        for i, ts in enumerate(times.tolist()):
            surprise = best[i]
            pca_parts = (0.0, 0.0)
            if pca is not None and batch is not None:
                x = dict(batch[i][1])
                x[TIME_KEY] = ts
                pca_parts = pca.step(x)
            pca_surprise = max(pca_parts)
            surprise = max(surprise, pca_surprise)
            emitted, is_anomaly, alerted = decide(surprise, pca_surprise)
            contributions: tuple[Contribution, ...] = ()
            if is_anomaly:
                floor = self.config.policy.release
                readings = univariate.readings(out, i, floor) if out is not None else []
                contributions = self._explain(readings, pca_parts)
            assessments.append(
                Assessment(
                    ts,
                    min(emitted / MAX_SURPRISE, 1.0),
                    is_anomaly,
                    alerted,
                    surprise,
                    contributions,
                )
            )
        self.last_ts = float(times[-1])
        self.samples += len(times)
        return assessments

    def _assess_per_metric(
        self, times: np.ndarray, out: BatchReadings | None, best: list[float]
    ) -> list[Assessment]:
        """:meth:`_assess` without a multivariate view: the same assessments, the
        decisions taken for the whole batch first."""
        decided = self.decision.step_many(best)
        floor = self.config.policy.release
        assessments = []
        for i, ts in enumerate(times.tolist()):
            emitted, is_anomaly, alerted = decided[i]
            contributions: tuple[Contribution, ...] = ()
            if is_anomaly:
                readings = self.univariate.readings(out, i, floor) if out is not None else []
                contributions = self._explain(readings, (0.0, 0.0))
            assessments.append(
                Assessment(
                    ts,
                    min(emitted / MAX_SURPRISE, 1.0),
                    is_anomaly,
                    alerted,
                    best[i],
                    contributions,
                )
            )
        self.last_ts = float(times[-1])
        self.samples += len(times)
        return assessments

    def _explain(
        self, readings: list[tuple[str, MetricReading]], pca_parts: tuple[float, float]
    ) -> tuple[Contribution, ...]:
        floor = self.config.policy.release
        out = [
            Contribution(name, r.z, r.baseline, r.feature, r.surprise)
            for name, r in readings
            if r.surprise >= floor
        ]
        for label, s in zip(("pca_t2", "pca_spe"), pca_parts, strict=True):
            if s >= floor:
                out.append(Contribution("*", 0.0, 0.0, label, s))
        out.sort(key=lambda c: -c.surprise)
        return tuple(out)
