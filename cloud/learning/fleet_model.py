"""A multivariate model of one device model's healthy behaviour, learned across its fleet.

Why: a fault often shows as a broken *relationship* between metrics (a connector hot while
the current is low) while every metric alone stays within its usual range, so per-metric
baselines miss it. A PCA model of many devices' history learns those relationships once
per device model; a new device is covered from its first sample.

- Metrics: those present in at least ``coverage`` of the training samples, in sorted
  order. Robust standardisation (median / IQR) so a few wild values do not set the scale.
- Statistics: Hotelling T² (distance inside the model's subspace) and SPE/Q (distance off
  it). Per-metric residuals, signed and in standardised units, name the metric that breaks
  the learned relationships.
- Robust to a contaminated history: fit, drop the ``trim_fraction`` of rows with the
  largest SPE, refit; gross outliers are left out when learning the thresholds.
- Thresholds: the ``threshold_quantile`` of training T² and SPE. The normalised score is
  the empirical CDF of the training statistic ``max(T²/T²_lim, SPE/SPE_lim)``.
- Relations, metric by metric: each metric that the others predict well is also judged
  by its distance from that leave-one-out prediction, calibrated per metric on the
  healthy history (:func:`related_metrics`). A compressor running hot for its speed
  moves along a direction the fleet also moves in, so T² and SPE take it for a busy
  compressor while its own relation to speed and lift is plainly broken.
- Missing metrics at score time: the sample is projected onto the model with the metrics
  it has (least squares on the present coordinates); SPE then sums over fewer metrics, so
  a sparse sample is judged conservatively, never rejected.

Pure: numpy only, no I/O. Immutable after fitting; scoring never mutates the model and is
safe to call from several threads.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cloud.learning.calibration import TailCdf, tail_surprise
from cloud.learning.errors import NotEnoughHistory
from cloud.learning.subspace import Subspace, fit_subspace

__all__ = ["FitOptions", "FleetModel", "FleetModelScore", "FleetScores"]

Matrix = NDArray[np.float64]

MAX_SURPRISE = 12.0

_MAX_COLUMN_MAPS = 1024
_ColumnMap = tuple[list[int], list[int]]

MIN_EXPLAINED = 0.5
"""Share of a metric's variance the other metrics must predict for its distance from
that prediction to be evidence (the prediction explains more than it leaves)."""

_GROSS_FACTOR = 6.0
"""Rows whose T² or SPE exceed this many times the 90th percentile are treated as faults
in the history when learning thresholds (for a χ² statistic that is a tail probability of
under 1e-4, so a healthy fleet loses next to nothing)."""


@dataclass(frozen=True)
class FitOptions:
    """How a fleet model is learned; the defaults suit telemetry sampled every few seconds."""

    coverage: float = 0.95
    explained_variance: float = 0.92
    trim_fraction: float = 0.02
    threshold_quantile: float = 0.995
    min_samples: int = 50


@dataclass(frozen=True, slots=True)
class FleetModelScore:
    """One sample judged against the fleet.

    ``score`` is in [0, 1]: the share of healthy training samples that looked less unusual.
    ``contributions`` are the signed residuals (standardised units) of the metrics the
    sample carried, largest magnitude first: the first names the metric that breaks the
    learned relationships (:meth:`FleetModel.expected` then says what value the fleet
    expected there). ``missing`` lists model metrics the sample lacked.
    """

    score: float
    t2: float
    spe: float
    is_anomaly: bool
    contributions: list[tuple[str, float]] = field(default_factory=list)
    missing: tuple[str, ...] = ()

    @property
    def top_metric(self) -> str | None:
        return self.contributions[0][0] if self.contributions else None

    @property
    def surprise(self) -> float:
        """−log10 of the healthy tail probability, capped at 12: the scale of
        :mod:`cloud.detect.tail`, so the same deciding thresholds apply."""
        return min(MAX_SURPRISE, -math.log10(max(1.0 - self.score, 10.0**-MAX_SURPRISE)))


@dataclass(frozen=True, slots=True)
class FleetScores:
    """Scores of a batch, one entry per row; ``residuals`` is NaN where a metric was absent."""

    score: NDArray[np.float64]
    t2: NDArray[np.float64]
    spe: NDArray[np.float64]
    is_anomaly: NDArray[np.bool_]
    residuals: Matrix
    loo: Matrix
    """Per metric, how far it lies from what the sample's other metrics predict
    (standardised units, signed; NaN where absent): see :meth:`Subspace.loo_residuals`."""
    loo_surprise: Matrix
    """−log10 of the healthy fleet's share of samples whose metric lay as far from its
    prediction, where that share is under 1 % (0 otherwise, where absent, or where the
    model was saved without that calibration)."""
    loo_excess: Matrix
    """That distance over the healthy fleet's 99th percentile of it: which metric is
    furthest off when several reach the surprise cap (a hot compressor also puts the
    speed its temperature predicts off). NaN where there is no calibration."""


class FleetModel:
    """Robust PCA (T² + SPE) of one device model's fleet telemetry; see the module doc."""

    def __init__(
        self,
        device_model: str,
        subspace: Subspace,
        t2_limit: float,
        spe_limit: float,
        calibration: TailCdf,
        *,
        n_samples: int,
        threshold_quantile: float,
        loo_calibration: Mapping[str, TailCdf] | None = None,
    ) -> None:
        self.device_model = device_model
        self.loo_calibration = dict(loo_calibration or {})
        """Per metric the relations predict (see :func:`related_metrics`), how far from
        its prediction healthy training samples lay."""
        unknown = set(self.loo_calibration) - set(subspace.metrics)
        if unknown:
            raise ValueError(f"leave-one-out calibration for unknown metrics {sorted(unknown)}")
        self.subspace = subspace
        self.metrics = subspace.metrics
        self.t2_limit = float(t2_limit)
        self.spe_limit = float(spe_limit)
        self.calibration = calibration
        self.n_samples = n_samples
        self.threshold_quantile = threshold_quantile
        self._index = {m: i for i, m in enumerate(self.metrics)}
        tails = [self.loo_calibration.get(m) for m in self.metrics]
        self._loo_p99 = np.array([max(c.u, 1e-12) if c else np.nan for c in tails])
        self._loo_beta = np.array([c.beta if c else np.nan for c in tails])
        self._unrelated = np.isnan(self._loo_p99)
        self._column_maps: dict[tuple[tuple[str, ...], frozenset[str]], _ColumnMap] = {}
        """Per batch layout, where its columns go: a device's batches share one layout."""

    # --- learning ------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        device_model: str,
        samples: Sequence[Mapping[str, float]],
        options: FitOptions | None = None,
    ) -> FleetModel:
        """Learn from samples of many devices of ``device_model``.

        Raises :class:`NotEnoughHistory` when too few complete samples or no varying
        metric remain.
        """
        options = options or FitOptions()
        metrics = select_metrics(samples, options.coverage)
        if not metrics:
            raise NotEnoughHistory(
                device_model,
                f"no metric is present in {options.coverage:.0%} of samples",
                samples=len(samples),
            )
        data = to_matrix(samples, metrics)
        data = data[np.isfinite(data).all(axis=1)]
        if len(data) < options.min_samples:
            raise NotEnoughHistory(
                device_model,
                f"{len(data)} complete samples, at least {options.min_samples} needed",
                samples=len(data),
            )
        varying = [i for i in range(len(metrics)) if np.ptp(data[:, i]) > 0.0]
        if not varying:
            raise NotEnoughHistory(device_model, "no metric varies", samples=len(data))
        data = data[:, varying]
        metrics = [metrics[i] for i in varying]
        return cls._fit_matrix(device_model, metrics, data, options)

    @classmethod
    def _fit_matrix(
        cls, device_model: str, metrics: Sequence[str], data: Matrix, options: FitOptions
    ) -> FleetModel:
        first = fit_subspace(metrics, data, options.explained_variance)
        t2, spe = first.statistics(data)
        ranking = spe if first.has_residual else t2
        keep_n = max(len(data) - int(len(data) * options.trim_fraction), 2)
        kept = data[np.argsort(ranking, kind="stable")[:keep_n]]
        subspace = fit_subspace(metrics, kept, options.explained_variance)
        t2, spe = subspace.statistics(data)
        inlier = (t2 <= _GROSS_FACTOR * np.quantile(t2, 0.9)) & (
            spe <= _GROSS_FACTOR * np.quantile(spe, 0.9)
        )
        healthy = data[inlier]
        related, loo = related_metrics(subspace, healthy, subspace.standardise(healthy))
        t2, spe = t2[inlier], spe[inlier]
        q = options.threshold_quantile
        t2_limit = max(float(np.quantile(t2, q)), 1e-12)
        spe_limit = max(float(np.quantile(spe, q)), 1e-12)
        ratio = np.maximum(t2 / t2_limit, spe / spe_limit)
        return cls(
            device_model,
            subspace,
            t2_limit,
            spe_limit,
            TailCdf.fit(ratio),
            n_samples=len(data),
            threshold_quantile=q,
            loo_calibration={metrics[j]: _healthy_tail(np.abs(loo[:, j])) for j in related},
        )

    # --- scoring ------------------------------------------------------------------------

    def row(self, metrics: Mapping[str, float]) -> Matrix:
        """One sample as a row in model order; absent or non-numeric metrics are NaN."""
        row: Matrix = to_matrix([metrics], self.metrics)[0]
        return row

    def matrix(self, samples: Iterable[Mapping[str, float]]) -> Matrix:
        """Samples as a 2-D array in model order, ready for :meth:`score_many`."""
        return to_matrix(list(samples), self.metrics)

    def matrix_from_columns(
        self, names: Sequence[str], values: Matrix, leave_out: Collection[str] = ()
    ) -> Matrix:
        """:meth:`matrix` of a batch already held as columns (``values[:, k]`` is metric
        ``names[k]``, NaN = absent), with the metrics in ``leave_out`` treated as absent:
        the same array, without a mapping per sample."""
        key = (tuple(names), frozenset(leave_out))
        mapping = self._column_maps.get(key)
        if mapping is None:
            position = {name: k for k, name in enumerate(names) if name not in leave_out}
            pairs = [(i, position[m]) for i, m in enumerate(self.metrics) if m in position]
            mapping = ([i for i, _ in pairs], [k for _, k in pairs])
            if len(self._column_maps) >= _MAX_COLUMN_MAPS:
                self._column_maps.clear()
            self._column_maps[key] = mapping
        into, taken = mapping
        out = np.full((len(values), len(self.metrics)), np.nan)
        if into:
            out[:, into] = values[:, taken]
            out[~np.isfinite(out)] = np.nan
        return out

    def score_one(self, metrics: Mapping[str, float]) -> FleetModelScore:
        """Judge one sample; metrics the model does not know are ignored."""
        row = self.row(metrics)
        scores = self.score_many(row[np.newaxis, :])
        residuals = scores.residuals[0]
        present = [i for i in range(len(self.metrics)) if math.isfinite(residuals[i])]
        present.sort(key=lambda i: -abs(residuals[i]))
        return FleetModelScore(
            score=float(scores.score[0]),
            t2=float(scores.t2[0]),
            spe=float(scores.spe[0]),
            is_anomaly=bool(scores.is_anomaly[0]),
            contributions=[(self.metrics[i], float(residuals[i])) for i in present],
            missing=tuple(m for i, m in enumerate(self.metrics) if not np.isfinite(row[i])),
        )

    def expected(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Per present metric, the value (in its own units) the fleet relationships predict
        from the sample's *other* metrics: "connector 67 °C where 38 °C is expected at this
        current". One small solve per metric, so call it to explain an anomaly, not for
        every sample."""
        predicted = self.subspace.leave_one_out(self.row(metrics))
        return {
            m: float(v) for m, v in zip(self.metrics, predicted, strict=True) if math.isfinite(v)
        }

    def relation_expected(self, metric: str, value: float, loo: float) -> float:
        """The value (own units) the relations predicted for ``metric`` of a sample that
        read ``value`` and lay ``loo`` from its prediction (:attr:`FleetScores.loo`)."""
        return value - loo * float(self.subspace.scale[self._index[metric]])

    def score_many(self, data: Matrix) -> FleetScores:
        """Judge a batch: ``data`` is (n, len(metrics)) in model order; NaN/inf = absent."""
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(self.metrics):
            raise ValueError(f"expected an (n, {len(self.metrics)}) array, got {data.shape}")
        t2, spe, residuals = self.subspace.statistics_with_gaps(data)
        ratio = np.maximum(t2 / self.t2_limit, spe / self.spe_limit)
        loo = self._loo(data)
        distance = np.abs(loo)
        return FleetScores(
            score=self.calibration.cdf(ratio),
            t2=t2,
            spe=spe,
            is_anomaly=ratio > 1.0,
            residuals=residuals,
            loo=loo,
            loo_surprise=tail_surprise(distance, self._loo_p99, self._loo_beta),
            loo_excess=distance / self._loo_p99,
        )

    def _loo(self, data: Matrix) -> Matrix:
        """Leave-one-out residuals among the related metrics only, as calibrated."""
        z = self.subspace.standardise(data)
        if not self.loo_calibration:
            return np.full(z.shape, np.nan)
        z[:, self._unrelated] = np.nan
        return self.subspace.loo_residuals(z)

    # --- persistence (plain types and arrays only, so skops needs no trusted types) ------

    def to_payload(self) -> dict[str, object]:
        return {
            "format": 1,
            "device_model": self.device_model,
            "subspace": self.subspace.to_payload(),
            "t2_limit": self.t2_limit,
            "spe_limit": self.spe_limit,
            "calibration": self.calibration.to_payload(),
            "n_samples": self.n_samples,
            "threshold_quantile": self.threshold_quantile,
            "loo_calibration": {m: c.to_payload() for m, c in self.loo_calibration.items()},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> FleetModel:
        """Rebuild a model; raises ValueError/KeyError/TypeError on a malformed payload."""
        if payload.get("format") != 1:
            raise ValueError(f"unknown fleet model format {payload.get('format')!r}")
        subspace, calibration = payload["subspace"], payload["calibration"]
        if not isinstance(subspace, dict) or not isinstance(calibration, dict):
            raise TypeError("subspace and calibration must be mappings")
        loo = payload.get("loo_calibration", {})  # absent from models saved before it
        if not isinstance(loo, dict) or not all(isinstance(c, dict) for c in loo.values()):
            raise TypeError("loo_calibration must map metrics to calibrations")
        return cls(
            str(payload["device_model"]),
            Subspace.from_payload(subspace),
            _as_float(payload["t2_limit"]),
            _as_float(payload["spe_limit"]),
            TailCdf.from_payload(calibration),
            n_samples=int(_as_float(payload["n_samples"])),
            threshold_quantile=_as_float(payload["threshold_quantile"]),
            loo_calibration={str(m): TailCdf.from_payload(c) for m, c in loo.items()},
        )

    def thresholds(self) -> dict[str, float]:
        """What is recorded beside the file: the limits and the quantile they stand for."""
        return {
            "t2": self.t2_limit,
            "spe": self.spe_limit,
            "quantile": self.threshold_quantile,
            "score": float(self.calibration.cdf(np.array([1.0]))[0]),
        }


def _healthy_tail(distances: Matrix) -> TailCdf:
    """The calibration of one metric's distances from its prediction, leaving out those
    the history's faults put there (beyond _GROSS_FACTOR times the 90th percentile): a
    week of a fleet holds compressors that ran hot for hours, whose distances would
    otherwise set the bar that the next hot compressor has to clear."""
    return TailCdf.fit(distances[distances <= _GROSS_FACTOR * np.quantile(distances, 0.9)])


def related_metrics(
    subspace: Subspace, data: Matrix, standardised: Matrix
) -> tuple[list[int], Matrix]:
    """The columns whose leave-one-out residual is evidence of a fault, and those
    residuals (predicted from each other only): the metrics that the others among them
    predict at least half of (explained variance ≥ MIN_EXPLAINED) and that take more
    than two values. Free memory or a grid's voltage, which nothing else predicts, has
    no relation to break: its residual is just its distance from the fleet's middle,
    which differences between devices fill; a counter only grows. A metric of two values
    (a car connected or not) is a state, not a measurement that can read wrong. Dropping
    a metric can leave another less predicted, so the selection repeats until stable."""
    candidates = [
        j
        for j in range(data.shape[1])
        if float(np.var(standardised[:, j])) > 0.0 and len(np.unique(data[:, j])) > 2
    ]
    while True:
        z = np.full(standardised.shape, np.nan)
        z[:, candidates] = standardised[:, candidates]
        loo = subspace.loo_residuals(z)
        kept = [
            j
            for j in candidates
            if 1.0 - float(np.var(loo[:, j])) / float(np.var(standardised[:, j])) >= MIN_EXPLAINED
        ]
        if kept == candidates:
            return kept, loo
        candidates = kept


def select_metrics(samples: Sequence[Mapping[str, float]], coverage: float) -> list[str]:
    """Metrics with a finite numeric value in at least ``coverage`` of samples, sorted."""
    counts: dict[str, int] = {}
    for sample in samples:
        for name, value in sample.items():
            if _is_number(value) and math.isfinite(value):
                counts[name] = counts.get(name, 0) + 1
    needed = coverage * len(samples)
    return sorted(name for name, count in counts.items() if count >= needed and count > 0)


def to_matrix(samples: Sequence[Mapping[str, float]], metrics: Sequence[str]) -> Matrix:
    """(len(samples), len(metrics)) array; absent, non-numeric or non-finite → NaN."""
    if not samples:
        return np.empty((0, len(metrics)))
    try:
        # Fast path for what ingest stores (floats): None becomes NaN.
        out = np.array([[s.get(m) for m in metrics] for s in samples], dtype=np.float64)
    except (TypeError, ValueError):
        out = np.full((len(samples), len(metrics)), np.nan)
        for r, sample in enumerate(samples):
            for c, name in enumerate(metrics):
                value = sample.get(name)
                if _is_number(value):
                    out[r, c] = value
    out[~np.isfinite(out)] = np.nan
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)
