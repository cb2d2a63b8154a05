"""The linear algebra of a fleet model: robust standardisation and a PCA subspace.

Kept apart from :mod:`cloud.learning.fleet_model` so the maths (and its handling of
missing metrics) can be read on one screen. Arrays only; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["Subspace", "fit_subspace"]

Matrix = NDArray[np.float64]

_IQR_TO_SIGMA = 1.349
"""IQR of a standard normal: dividing by it makes the robust scale comparable to σ."""
_MAX_CACHED_PATTERNS = 256


@dataclass(frozen=True, eq=False)
class Subspace:
    """Standardise ``z = (x - center) / scale - mean``, then project on ``components``.

    ``components`` is (k, d) with orthonormal rows; ``variances`` (k,) are the variances of
    the projections on the training data, so T² = Σ t² / variance. ``noise_variance`` is
    the mean variance left off the subspace per dimension (probabilistic PCA's σ²).
    """

    metrics: tuple[str, ...]
    center: Matrix
    scale: Matrix
    mean: Matrix
    components: Matrix
    variances: Matrix
    noise_variance: float
    _projections: dict[bytes, tuple[Matrix, Matrix]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Per pattern of present metrics, its basis and gram matrix: a device sends the same
    metrics sample after sample, so a batch's few patterns are the same ones every time."""
    _loo: dict[bytes, Matrix] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Per pattern of present metrics, its leave-one-out weights (same reason)."""

    @property
    def has_residual(self) -> bool:
        return bool(self.components.shape[0] < self.components.shape[1])

    def standardise(self, data: Matrix) -> Matrix:
        return (data - self.center) / self.scale - self.mean

    def statistics(self, data: Matrix) -> tuple[Matrix, Matrix]:
        """(T², SPE) of complete rows."""
        z = self.standardise(data)
        t = z @ self.components.T
        residual = z - t @ self.components
        return (t * t / self.variances).sum(axis=1), (residual * residual).sum(axis=1)

    def statistics_with_gaps(self, data: Matrix) -> tuple[Matrix, Matrix, Matrix]:
        """(T², SPE, residuals) where NaN marks an absent metric.

        Rows are grouped by their pattern of present metrics. Each group gets the
        probabilistic-PCA posterior mean of its projection given the present coordinates
        (least squares shrunk by σ²/variance): unlike a plain pseudo-inverse it stays
        well-conditioned when the present metrics barely load on some component. A batch
        with a few patterns costs a few k×k solves; a row with no metric at all scores 0.
        """
        z = self.standardise(data)
        present = np.isfinite(z)
        n = len(z)
        if n and (present == present[0]).all():  # the usual batch: one device, one pattern
            return self._one_pattern(z, present[0])
        t2 = np.zeros(n)
        spe = np.zeros(n)
        residuals = np.full(z.shape, np.nan)
        complete = present.all(axis=1)
        if complete.any():
            rows = z[complete]
            t = rows @ self.components.T
            res = rows - t @ self.components
            t2[complete] = (t * t / self.variances).sum(axis=1)
            spe[complete] = (res * res).sum(axis=1)
            residuals[complete] = res
        if complete.all():
            return t2, spe, residuals
        partial = np.flatnonzero(~complete)
        for idx, pattern in _groups(present, partial):
            basis, gram = self._projection(pattern)
            rows = z[np.ix_(idx, pattern)]
            t = np.asarray(np.linalg.solve(gram, basis @ rows.T), dtype=np.float64).T
            res = rows - t @ basis
            t2[idx] = (t * t / self.variances).sum(axis=1)
            spe[idx] = (res * res).sum(axis=1)
            residuals[np.ix_(idx, pattern)] = res
        return t2, spe, residuals

    def _one_pattern(self, z: Matrix, pattern: NDArray[np.bool_]) -> tuple[Matrix, Matrix, Matrix]:
        """:meth:`statistics_with_gaps` of rows that all share ``pattern``: the same
        arithmetic on the whole batch, without grouping."""
        n = len(z)
        if pattern.all():
            t = z @ self.components.T
            res = z - t @ self.components
            return (t * t / self.variances).sum(axis=1), (res * res).sum(axis=1), res
        residuals = np.full(z.shape, np.nan)
        if not pattern.any():
            return np.zeros(n), np.zeros(n), residuals
        basis, gram = self._projection(pattern)
        rows = z[:, pattern]
        t = np.asarray(np.linalg.solve(gram, basis @ rows.T), dtype=np.float64).T
        res = rows - t @ basis
        residuals[:, pattern] = res
        return (t * t / self.variances).sum(axis=1), (res * res).sum(axis=1), residuals

    def _projection(self, pattern: NDArray[np.bool_]) -> tuple[Matrix, Matrix]:
        """The basis restricted to ``pattern`` and its regularised gram matrix (cached;
        the cache is bounded, and a race between threads only computes an entry twice)."""
        key = pattern.tobytes()
        cached = self._projections.get(key)
        if cached is None:
            basis = self.components[:, pattern]
            gram = basis @ basis.T + np.diag(self.noise_variance / self.variances)
            if len(self._projections) >= _MAX_CACHED_PATTERNS:
                self._projections.clear()
            cached = self._projections[key] = (basis, gram)
        return cached

    def leave_one_out(self, row: Matrix) -> Matrix:
        """For each present metric of one row, its value predicted from the other present
        metrics (original units); NaN for absent metrics or when nothing else is present."""
        z = self.standardise(row)
        residual = self.loo_residuals(z[np.newaxis, :])[0]
        predicted: Matrix = (z - residual + self.mean) * self.scale + self.center
        return predicted

    def loo_residuals(self, z: Matrix) -> Matrix:
        """Per metric of standardised rows ``z``, how far it lies from what the other
        present metrics predict (standardised units; NaN where absent or alone).

        Why: a fault that moves one metric along a direction the fleet also moves in
        (a compressor hotter, as a compressor at full speed would be) stays inside the
        model's subspace, so T² and SPE barely notice it, while the metrics that set
        the operating point still say how hot it should be. Linear in ``z``: one weight
        matrix per pattern of present metrics (cached), one product per batch."""
        out = np.full(z.shape, np.nan)
        for idx, pattern in _groups(np.isfinite(z), np.arange(len(z))):
            weights = self._loo_weights(pattern)
            rows = z[np.ix_(idx, pattern)]
            out[np.ix_(idx, pattern)] = rows - rows @ weights.T
        return out

    def _loo_weights(self, pattern: NDArray[np.bool_]) -> Matrix:
        """``W`` with a zero diagonal such that ``z @ W.T`` predicts each present metric
        from the others (probabilistic-PCA posterior mean); a metric alone predicts NaN."""
        key = pattern.tobytes()
        cached = self._loo.get(key)
        if cached is not None:
            return cached
        present = np.flatnonzero(pattern)
        weights = np.full((len(present), len(present)), np.nan)
        shrink = np.diag(self.noise_variance / self.variances)
        for row, i in enumerate(present):
            others = np.delete(np.arange(len(present)), row)
            if not len(others):
                continue
            basis = self.components[:, present[others]]
            solved = np.linalg.solve(basis @ basis.T + shrink, basis)
            weights[row] = 0.0
            weights[row, others] = self.components[:, i] @ solved
        if len(self._loo) >= _MAX_CACHED_PATTERNS:
            self._loo.clear()
        self._loo[key] = weights
        return weights

    def to_payload(self) -> dict[str, object]:
        return {
            "metrics": list(self.metrics),
            "center": self.center,
            "scale": self.scale,
            "mean": self.mean,
            "components": self.components,
            "variances": self.variances,
            "noise_variance": self.noise_variance,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> Subspace:
        """Rebuild and check shapes, so a malformed file fails here and not mid-scoring."""
        metrics = payload["metrics"]
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise TypeError("metrics must be a list of names")
        d = len(metrics)
        vectors = {
            name: np.asarray(payload[name], dtype=np.float64)
            for name in ("center", "scale", "mean", "variances")
        }
        components = np.asarray(payload["components"], dtype=np.float64)
        k = components.shape[0] if components.ndim == 2 else -1
        if components.shape != (k, d) or not 1 <= k <= d:
            raise ValueError(f"components shape {components.shape} does not fit {d} metrics")
        for name, vector in vectors.items():
            expected = (k,) if name == "variances" else (d,)
            if vector.shape != expected:
                raise ValueError(f"{name} has shape {vector.shape}, expected {expected}")
        if not (vectors["scale"] > 0).all() or not (vectors["variances"] > 0).all():
            raise ValueError("scales and variances must be positive")
        noise = payload["noise_variance"]
        if not isinstance(noise, float) or not noise > 0:
            raise ValueError("noise_variance must be a positive float")
        return cls(tuple(metrics), components=components, noise_variance=noise, **vectors)


def _groups(
    present: NDArray[np.bool_], partial: NDArray[np.intp]
) -> Iterator[tuple[NDArray[np.intp], NDArray[np.bool_]]]:
    """The rows ``partial`` grouped by their pattern of present metrics, each group's rows
    in ascending order; a pattern with no metric present is left out (those rows score 0).
    Most such batches hold one pattern beside complete rows: that case costs one
    comparison instead of sorting the rows."""
    if not len(partial):
        return
    masks = present[partial]
    first = masks[0]
    if (masks == first).all():
        if first.any():
            yield partial, first
        return
    patterns, groups = np.unique(masks, axis=0, return_inverse=True)
    groups = groups.ravel()
    for g, pattern in enumerate(patterns):
        if pattern.any():
            yield partial[groups == g], pattern


def fit_subspace(metrics: Sequence[str], data: Matrix, explained: float) -> Subspace:
    """Median/IQR standardisation and the fewest components explaining ``explained`` of the
    variance; at least one dimension is always left for the residual when d > 1."""
    center = np.median(data, axis=0)
    q75, q25 = np.percentile(data, [75, 25], axis=0)
    scale = (q75 - q25) / _IQR_TO_SIGMA
    std = data.std(axis=0)
    # A mostly constant metric has IQR 0 but still varies: fall back on σ.
    scale = np.where(scale > 0, scale, std)
    scale = np.maximum(scale, 1e-9 * (np.abs(center) + 1.0))
    z = (data - center) / scale
    mean = z.mean(axis=0)
    _, singular, vt = np.linalg.svd(z - mean, full_matrices=False)
    variances = singular**2 / max(len(z) - 1, 1)
    total = float(variances.sum())
    d = data.shape[1]
    k = int(np.searchsorted(np.cumsum(variances) / total, explained) + 1) if total > 0 else 1
    k = max(1, min(k, d - 1 if d > 1 else 1))
    kept = np.maximum(variances[:k], 1e-12)
    rest = variances[k:]
    noise = float(rest.mean()) if rest.size else 1e-3 * float(kept.min())
    return Subspace(
        tuple(metrics),
        center=center,
        scale=scale,
        mean=mean,
        components=vt[:k].copy(),
        variances=kept,
        noise_variance=max(noise, 1e-12),
    )
