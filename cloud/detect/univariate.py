"""Per-metric streaming surprise: several views of "unusual", each self-calibrated.

Views (features) of one metric at time t:

``level``   robust z of the value against an exponentially weighted, outlier-clipped
            level and scale (spikes, dips, sudden level shifts);
``daily`` / ``weekly``
            robust z against a seasonal profile learned from timestamps (a regular swing
            that fails to happen, an unusual value for this time of day or week);
``burst``   mean |z| over the last few samples (Numenta's anomaly-likelihood idea: a run
            of moderately unusual values is more telling than any one of them);
``drift``   |mean z| over a longer window (a small sustained shift).

Every view is turned into a surprise (−log10 tail probability) by its own tail
calibration (:mod:`cloud.detect.tail`), so their maximum is comparable across views,
metrics and streams. All parameters beyond smoothing rates are learned from the stream.

:class:`UnivariateState` holds every metric of one stream as arrays (one row per
metric) and runs batches through :func:`cloud.detect.kernel.run_batch`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cloud.detect import kernel
from cloud.detect.seasonal import MAX_BINS, N_PROFILE_PARAMS
from cloud.detect.tail import N_TAIL_PARAMS, new_tail_params, tail_row_len

__all__ = ["FEATURES", "BatchReadings", "MetricReading", "UnivariateConfig", "UnivariateState"]

FEATURES: tuple[str, ...] = ("level", "daily", "weekly", "burst", "drift")
_MIN_TAIL_SCALE = (0.25, 0.25, 0.25, 0.1, 0.1)
"""Smallest tail scale per view, in z units: a deviation of a fraction of the stream's own
typical deviation is never extreme, even when the feature was constant so far (flat
streams)."""


@dataclass(frozen=True)
class UnivariateConfig:
    """Smoothing rates and window lengths (generic, not fitted to any data set)."""

    level_alpha: float = 0.1
    scale_alpha: float = 0.02
    clip_z: float = 4.0
    burst_len: int = 10
    drift_len: int = 40
    seasonal_alpha: float = 0.3
    history: int = 3000
    refit_every: int = 100
    slow_scale_alpha: float = 0.002
    scale_floor: float = 0.5


@dataclass(frozen=True)
class MetricReading:
    """What one metric's model says about one value (no state changed)."""

    surprise: float
    z: float
    feature: str
    baseline: float


@dataclass(frozen=True)
class BatchReadings:
    """Kernel outputs for a batch, shape (samples, metrics); ``surprise`` is NaN where a
    metric gave no reading (missing, warming up)."""

    surprise: np.ndarray
    z: np.ndarray
    view: np.ndarray
    baseline: np.ndarray

    def reading(self, i: int, m: int) -> MetricReading:
        """Sample ``i``'s reading of metric column ``m`` (its surprise must be finite)."""
        return MetricReading(
            float(self.surprise[i, m]),
            float(self.z[i, m]),
            FEATURES[int(self.view[i, m])],
            float(self.baseline[i, m]),
        )


class UnivariateState:
    """Every metric's state of one stream, one row per metric (in first-seen order).

    Rows: metric scalars (level, scales, window sums, ...), the recent z window, two
    seasonal profiles (parameters and float32 bins) and five tail calibrations
    (parameters and float64 rows of the values that can still matter to a fit). Plain
    arrays, so a checkpoint carries them packed, and one kernel call updates them all.
    """

    __slots__ = ("bins", "cfg", "params", "prof", "recent", "tail_template", "tails", "tpar")

    def __init__(self, config: UnivariateConfig, warmup_samples: int) -> None:
        self.cfg = kernel.config_row(
            config.level_alpha,
            config.scale_alpha,
            config.clip_z,
            config.burst_len,
            config.drift_len,
            config.seasonal_alpha,
            config.slow_scale_alpha,
            config.scale_floor,
            warmup_samples,
        )
        window = max(config.burst_len, config.drift_len)
        self.params = np.zeros((0, kernel.N_METRIC_PARAMS), dtype=np.float64)
        self.recent = np.zeros((0, window), dtype=np.float64)
        self.prof = np.zeros((0, 2, N_PROFILE_PARAMS), dtype=np.float64)
        self.bins = np.zeros((0, 2, MAX_BINS), dtype=np.float32)
        tails = [
            new_tail_params(config.history, config.refit_every, min_scale=floor)
            for floor in _MIN_TAIL_SCALE
        ]
        self.tpar = np.zeros((0, kernel.N_VIEWS, N_TAIL_PARAMS), dtype=np.float64)
        self.tails = np.zeros((0, kernel.N_VIEWS, tail_row_len(config.history, config.refit_every)))
        self.tail_template = np.stack(tails)[np.newaxis]

    @property
    def metrics(self) -> int:
        """Number of metric rows."""
        return int(self.params.shape[0])

    def add_metrics(self, count: int) -> None:
        """Append ``count`` empty metric rows (a metric first seen late warms up alone)."""
        if self.metrics == 0:  # a new stream: fresh arrays, nothing to copy
            self._first_metrics(count)
            return
        row = np.zeros((count, kernel.N_METRIC_PARAMS), dtype=np.float64)
        row[:, kernel.RESOLUTION] = math.inf
        row[:, kernel.FLOOR] = 1e-9
        self.params = np.concatenate([self.params, row])
        self.recent = np.concatenate([self.recent, np.zeros((count, self.recent.shape[1]))])
        self.prof = np.concatenate([self.prof, np.zeros((count, 2, N_PROFILE_PARAMS))])
        self.bins = np.concatenate(
            [self.bins, np.full((count, 2, MAX_BINS), np.nan, dtype=np.float32)]
        )
        self.tpar = np.concatenate([self.tpar, np.repeat(self.tail_template, count, axis=0)])
        length = self.tails.shape[2]
        self.tails = np.concatenate([self.tails, np.zeros((count, kernel.N_VIEWS, length))])

    def _first_metrics(self, count: int) -> None:
        """:meth:`add_metrics` on a state with none: the same arrays, allocated once."""
        self.params = np.zeros((count, kernel.N_METRIC_PARAMS), dtype=np.float64)
        self.params[:, kernel.RESOLUTION] = math.inf
        self.params[:, kernel.FLOOR] = 1e-9
        self.recent = np.zeros((count, self.recent.shape[1]))
        self.prof = np.zeros((count, 2, N_PROFILE_PARAMS))
        self.bins = np.full((count, 2, MAX_BINS), np.nan, dtype=np.float32)
        self.tpar = np.repeat(self.tail_template, count, axis=0)
        self.tails = np.zeros((count, kernel.N_VIEWS, self.tails.shape[2]))

    def samples_seen(self, m: int) -> int:
        """How many values metric row ``m`` has learned."""
        return int(self.params[m, kernel.N])

    def run(
        self,
        ts: np.ndarray,
        values: np.ndarray,
        *,
        judge: bool,
        learn: bool,
        held: np.ndarray | None = None,
    ) -> BatchReadings:
        """Judge and/or learn a (samples, metrics) batch; NaN = missing. ``held``: per
        metric row, judge but do not learn. See run_batch."""
        shape = values.shape
        if held is None:
            held = np.zeros(shape[1], dtype=np.bool_)
        out = BatchReadings(
            np.empty(shape), np.zeros(shape), np.zeros(shape, dtype=np.int8), np.zeros(shape)
        )
        kernel.run_batch(
            self.cfg,
            self.params,
            self.recent,
            self.prof,
            self.bins,
            self.tpar,
            self.tails,
            ts,
            values,
            judge,
            learn,
            held,
            out.surprise,
            out.z,
            out.view,
            out.baseline,
        )
        return out
