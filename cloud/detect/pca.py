"""Multivariate detector: PCA Hotelling T² and residual (SPE / Q) learned at warm-up.

Why: on a machine, a fault often shows as a broken *relationship* between sensors (the
flow no longer matches the pump current) while each sensor alone stays in its usual
range. A PCA model of the healthy warm-up period captures those relationships; T²
measures how far a sample is inside the model's plane, SPE how far it is off it.

The model is fitted when ``warmup_samples`` samples have been learned and then held
fixed between refits: a continuously adaptive baseline would absorb a lasting fault
within minutes. Every ``refit_every`` samples it is refitted on the samples it judged
normal (so normal drift is followed, faults are not); if it has flagged most samples
for two refit periods, that is taken as a new normal and it re-baselines. Statistics
are averaged over the last ``smooth`` samples (one noisy sample is weak evidence, a
run is strong) and calibrated into a surprise with two-fold out-of-sample statistics
of the training rows, so that in-sample over-fitting does not make the threshold too
tight.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from cloud.detect.tail import MAX_SURPRISE, TailCalibrator

__all__ = ["PcaDetector", "PcaModel"]

_EXPLAINED = 0.8
DRIFT_HORIZON = 2.0
REFIT_MEMORY = 4
MIN_MEMORY = 2000
"""Refits use up to this many warm-ups' worth of normal samples (more of the cycle)."""
NORMAL_SURPRISE = 1.5
"""Samples whose surprise stays below this are taken as normal for refitting."""


class PcaModel:
    """Standardisation + principal subspace of one training matrix."""

    def __init__(self, data: NDArray[np.float64]) -> None:
        self.mean = data.mean(axis=0)
        # A metric that trends during training (a temperature warming up) will keep
        # trending: widen its scale by the drift the trend would add over one training
        # length, so that drift alone does not read as a fault.
        n = len(data)
        t = np.arange(n) - (n - 1) / 2.0
        slope = (t @ (data - self.mean)) / max(float(t @ t), 1e-12)
        std = np.sqrt(data.var(axis=0) + (DRIFT_HORIZON * slope * n) ** 2)
        self.std = np.maximum(std, 1e-6 * np.abs(self.mean) + 1e-12)
        z = (data - self.mean) / self.std
        _, sing, vt = np.linalg.svd(z, full_matrices=False)
        var = sing**2 / max(len(data) - 1, 1)
        total = float(var.sum())
        d = data.shape[1]
        k = 1 if total <= 0.0 else int(np.searchsorted(np.cumsum(var) / total, _EXPLAINED) + 1)
        k = max(1, min(k, d - 1 if d > 1 else 1))
        self.components = vt[:k]
        self.variances = np.maximum(var[:k], 1e-12)
        self.has_residual = k < d
        self._inv_var_k = 1.0 / (self.variances * k)
        self._inv_std = 1.0 / self.std

    def statistics_one(self, row: NDArray[np.float64]) -> tuple[float, float]:
        """(T² / k, SPE) of one row (the per-sample hot path).

        The components are orthonormal, so SPE = |z|² − |proj|² needs no reconstruction.
        """
        z = (row - self.mean) * self._inv_std
        proj = self.components @ z
        pp = proj * proj
        t2 = float(pp @ self._inv_var_k)
        if not self.has_residual:
            return t2, 0.0
        return t2, max(float(z @ z) - float(pp.sum()), 0.0)

    def statistics(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """(T² / k, SPE) per row of a 2-D array."""
        z = (rows - self.mean) / self.std
        proj = z @ self.components.T
        t2 = (proj**2 / self.variances).sum(axis=1) / len(self.variances)
        if self.has_residual:
            spe = ((z - proj @ self.components) ** 2).sum(axis=1)
        else:
            spe = np.zeros(len(rows))
        return np.column_stack([t2, spe])


class PcaDetector:
    """T² + SPE of a fixed PCA model of the warm-up, smoothed and self-calibrated."""

    def __init__(
        self,
        metrics: Sequence[str],
        warmup_samples: int = 150,
        smooth: int = 15,
        seed: int = 0,
        refit_every: int | None = None,
    ) -> None:
        del seed  # SVD is deterministic
        if not metrics:
            raise ValueError("PcaDetector needs at least one metric")
        self.metrics = tuple(metrics)
        self.warmup_samples = max(warmup_samples, 4 * len(self.metrics), 20)
        self.smooth = smooth
        self.n = 0
        self._train: list[list[float]] = []
        self.model: PcaModel | None = None
        self._recent: deque[tuple[float, float]] = deque(maxlen=max(smooth - 1, 1))
        self._sums = [0.0, 0.0]
        self._pushes = 0
        self._cal = _calibrators()
        self.refit_every = (
            refit_every if refit_every is not None else REFIT_MEMORY * self.warmup_samples
        )
        self._normal: deque[list[float]] = deque(
            maxlen=max(REFIT_MEMORY * self.warmup_samples, MIN_MEMORY)
        )
        self._latest: deque[list[float]] = deque(maxlen=self.warmup_samples)
        self._since_fit = 0
        self._normal_since_fit = 0
        self.refits = 0

    def _vector(self, x: Mapping[str, float]) -> list[float]:
        out = []
        for name in self.metrics:
            v = x.get(name, math.nan)
            out.append(float(v) if v is not None else math.nan)
        return out

    def _stats(self, model: PcaModel, values: list[float]) -> tuple[float, float]:
        row = np.array(values, dtype=np.float64)
        if not math.isfinite(sum(values)):
            missing = ~np.isfinite(row)
            row[missing] = model.mean[missing]  # a missing metric carries no evidence
        return model.statistics_one(row)

    def _smoothed(self, stats: tuple[float, float]) -> tuple[float, float]:
        """Mean of the last ``smooth`` statistics, this one included (O(1) running sums)."""
        k = len(self._recent) + 1
        return (self._sums[0] + stats[0]) / k, (self._sums[1] + stats[1]) / k

    def _push(self, stats: tuple[float, float]) -> None:
        recent = self._recent
        if len(recent) == recent.maxlen:
            a, b = recent[0]
            self._sums[0] -= a
            self._sums[1] -= b
        recent.append(stats)
        self._sums[0] += stats[0]
        self._sums[1] += stats[1]
        self._pushes += 1
        if self._pushes % 1000 == 0:  # recompute exactly: no floating-point creep
            self._sums = [sum(a for a, _ in recent), sum(b for _, b in recent)]

    def surprise_parts(self, x: Mapping[str, float]) -> tuple[float, float]:
        """Surprise of the smoothed T² and SPE (0, 0 during warm-up)."""
        if self.model is None:
            return 0.0, 0.0
        t2, spe = self._smoothed(self._stats(self.model, self._vector(x)))
        return self._cal[0].surprise(t2), self._cal[1].surprise(spe)

    def step(self, x: Mapping[str, float]) -> tuple[float, float]:
        """``surprise_parts`` then ``learn_one`` with one statistics computation."""
        model = self.model
        if model is None:
            self.learn_one(x)
            return 0.0, 0.0
        row = self._vector(x)
        stats = self._stats(model, row)
        t2, spe = self._smoothed(stats)
        parts = self._cal[0].surprise(t2), self._cal[1].surprise(spe)
        self._after(row, stats, parts)
        return parts

    def step_score(self, x: Mapping[str, float]) -> float:
        return max(self.step(x)) / MAX_SURPRISE

    def score_one(self, x: Mapping[str, float]) -> float:
        return max(self.surprise_parts(x)) / MAX_SURPRISE

    def learn_one(self, x: Mapping[str, float]) -> None:
        if self.model is not None:
            row = self._vector(x)
            stats = self._stats(self.model, row)
            t2, spe = self._smoothed(stats)
            self._after(row, stats, (self._cal[0].surprise(t2), self._cal[1].surprise(spe)))
            return
        self.n += 1
        self._train.append(self._vector(x))
        if len(self._train) >= self.warmup_samples:
            self._fit()

    def _after(
        self, row: list[float], stats: tuple[float, float], parts: tuple[float, float]
    ) -> None:
        """Learn one scored sample: keep it for the next refit if it looked normal.

        Why refit: a device's normal behaviour drifts (seasons, wear, a cycle that was
        not in the first samples); a model frozen at warm-up then flags healthy data for
        ever. Only samples the model itself judged normal are kept, so a lasting fault is
        not absorbed into the baseline.
        """
        self.n += 1
        self._push(stats)
        self._latest.append(row)
        if max(parts) < NORMAL_SURPRISE:
            self._normal.append(row)
            self._normal_since_fit += 1
        self._since_fit += 1
        if self._since_fit < self.refit_every:
            return
        mostly_flagged = 2 * self._normal_since_fit < self._since_fit
        if not mostly_flagged and len(self._normal) >= self.warmup_samples:
            self._refit(list(self._normal))
        elif mostly_flagged and self._since_fit >= 2 * self.refit_every:
            # Flagged for this long, the "fault" is the device's new normal (a re-fit
            # after maintenance, a cycle the warm-up never saw): re-baseline on it.
            self._normal.extend(self._latest)
            self._refit(list(self._normal))

    def _refit(self, rows: list[list[float]]) -> None:
        self._train = rows
        self._cal = _calibrators()
        self._recent.clear()
        self._sums = [0.0, 0.0]
        self._fit()
        self.refits += 1

    def _fit(self) -> None:
        data = np.asarray(self._train, dtype=np.float64)
        col_mean = np.nanmean(np.where(np.isfinite(data), data, np.nan), axis=0)
        col_mean = np.where(np.isfinite(col_mean), col_mean, 0.0)
        data = np.where(np.isfinite(data), data, col_mean)
        half = len(data) // 2
        held_out = []
        for fit_part, test_part in ((data[:half], data[half:]), (data[half:], data[:half])):
            held_out.append(PcaModel(fit_part).statistics(test_part))
        stats = np.vstack([held_out[1], held_out[0]])  # back in time order
        kernel = np.ones(self.smooth) / self.smooth
        for j, cal in enumerate(self._cal):
            smoothed = np.convolve(stats[:, j], kernel, mode="valid")
            cal.seed([float(v) for v in smoothed])
        self.model = PcaModel(data)
        for row in stats[-(self.smooth - 1) :] if self.smooth > 1 else []:
            self._push((float(row[0]), float(row[1])))
        self._train = []
        self._since_fit = 0
        self._normal_since_fit = 0


def _calibrators() -> tuple[TailCalibrator, TailCalibrator]:
    return TailCalibrator(min_history=10), TailCalibrator(min_history=10)
