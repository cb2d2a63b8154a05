"""Online calibration of a raw anomaly feature into a surprise (−log10 tail probability).

Why: raw features (robust z, window means, residual norms) live on scales that differ per
stream, per metric and per feature. Turning each into "how rare is a value this large in
*this* stream's own recent history" gives one common scale, so that one global threshold
means the same false-alarm rate everywhere, and nothing has to be tuned per file.

The tail above the ``1 - tail_fraction`` quantile is modelled as exponential (the
peaks-over-threshold idea with a shape parameter of 0): it extrapolates beyond the largest
value seen, which an empirical quantile cannot do with a few hundred samples. The fit is
bounded by recurrence (a value exceeded ≥ 10 times in the history is at most as rare as
that count says: recurring spikes are normal for that stream) and refreshed every
``refit_every`` learned values from the last ``history`` values, so the result depends
only on the number and order of learned values (causal and deterministic).

Exact, and compact: the fit needs only the largest ``n_tail + 1`` values of the window
(``n_tail`` about ``tail_fraction`` of it), never the rest. The history is kept as a ring
of buckets of ``s`` consecutive values (``s`` divides both ``history`` and
``refit_every``, so at every scheduled refit the buckets hold exactly the last
``history`` values, as a ring buffer would). Each bucket keeps only those of its values
that can still be among the ``keep`` largest of some future window: at every refit,
walking from the newest bucket to the oldest, a value is dropped once ``keep`` values at
least as large are kept in its own bucket or newer ones (those stay in the window at
least as long as it does, so it can never rank high enough again). ``u``, the median
excess and the recurrence counts are therefore exactly those of the window's values
(float64, as learned), while a stationary feature keeps a few hundred values instead of
``history`` (the rest of a row is zeros, which a compressed checkpoint does not pay for).

The arithmetic lives in the ``njit`` functions below, over one value row and one
parameter row, so the per-stream kernel (:mod:`cloud.detect.kernel`) and the
:class:`TailCalibrator` object used one at a time share one implementation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "MAX_SURPRISE",
    "N_TAIL_PARAMS",
    "TailCalibrator",
    "new_tail_params",
    "tail_learn",
    "tail_row_len",
    "tail_seed",
    "tail_surprise",
]

MAX_SURPRISE = 12.0
"""Cap on surprise: beyond one in 10^12 the exact figure carries no information."""

_LN10 = math.log(10.0)
_LN2 = math.log(2.0)
_MIN_EXCEEDANCES = 25
_MIN_RECURRENCES = 10

# Parameter row layout (float64).
_N, _U, _BASE, _INV_BETA, _TOTAL = 0, 1, 2, 3, 4
_BUCKET_SIZE, _REFIT_EVERY, _TAIL_FRACTION, _MIN_HISTORY, _MIN_SCALE = 5, 6, 7, 8, 9
_KEEP, _BUCKETS, _N_TOP = 10, 11, 12
N_TAIL_PARAMS = 13
"""A value row (float64) is: the fitted top values (ascending, ``keep`` slots, the first
``par[_N_TOP]`` used: the recurrence bound reads the fitted history, as the fitted tail
does, so values of an incident in progress do not make themselves normal before the next
fit), then one kept-value count per bucket, then the buckets (``s`` slots each, the
first ``count`` used)."""


def _keep(history: int, tail_fraction: float) -> int:
    """Largest ``n_tail + 1`` any window of at most ``history`` values needs."""
    return max(int(history * tail_fraction), min(_MIN_EXCEEDANCES, history // 5), 1) + 1


def _layout(history: int, refit_every: int, tail_fraction: float) -> tuple[int, int, int]:
    """(keep, bucket size, buckets): the bucket size divides ``history`` and
    ``refit_every`` and is at most ``keep`` (a bucket being filled keeps every value)."""
    if history < 1 or refit_every < 1:
        raise ValueError("history and refit_every must be positive")
    keep = _keep(history, tail_fraction)
    g = math.gcd(history, refit_every)
    size = max(d for d in range(1, min(g, keep) + 1) if g % d == 0)
    return keep, size, history // size


def tail_row_len(history: int = 3000, refit_every: int = 50, tail_fraction: float = 0.05) -> int:
    """Length of a value row for these settings."""
    keep, _, buckets = _layout(history, refit_every, tail_fraction)
    return keep + buckets + history


def new_tail_params(
    history: int = 3000,
    refit_every: int = 50,
    tail_fraction: float = 0.05,
    min_history: int = 100,
    min_scale: float = 0.0,
) -> np.ndarray:
    """A parameter row for an empty calibrator (what the kernel's state is made of)."""
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError("tail_fraction must be in (0, 1)")
    keep, size, buckets = _layout(history, refit_every, tail_fraction)
    par = np.zeros(N_TAIL_PARAMS, dtype=np.float64)
    par[_U] = math.inf
    par[_BASE] = -math.log10(tail_fraction)
    par[_BUCKET_SIZE] = size
    par[_REFIT_EVERY] = refit_every
    par[_TAIL_FRACTION] = tail_fraction
    par[_MIN_HISTORY] = min_history
    par[_MIN_SCALE] = min_scale
    par[_KEEP] = keep
    par[_BUCKETS] = buckets
    return par


@numba.njit(cache=True)
def _fit(row: np.ndarray, par: np.ndarray, merged: np.ndarray, total: int) -> None:
    """Fit the tail of a window of ``total`` values whose largest are ``merged``
    (descending, at least ``n_tail + 1`` of them)."""
    keep = int(par[_KEEP])
    n_tail = max(int(total * par[_TAIL_FRACTION]), min(_MIN_EXCEEDANCES, total // 5), 1)
    n_tail = min(n_tail, total - 1)
    u = merged[n_tail]
    excess = np.empty(n_tail, dtype=np.float64)
    for r in range(n_tail):
        excess[r] = merged[r] - u
    # Median excess / ln 2 estimates the exponential scale robustly: a handful of absurd
    # values (start-up transients, earlier incidents) cannot flatten the tail.
    beta = np.median(excess) / _LN2
    # A tail with no spread (constant feature) still needs a finite slope: any value
    # above it is then very surprising, which is the right answer for a stuck signal.
    floor = max(1e-6 * max(abs(u), 1e-3), par[_MIN_SCALE])
    for r in range(n_tail):
        row[r] = merged[n_tail - 1 - r]
    row[n_tail:keep] = 0.0
    par[_N_TOP] = n_tail
    par[_TOTAL] = total
    par[_U] = u
    par[_BASE] = -math.log10(n_tail / total)
    par[_INV_BETA] = 1.0 / (max(beta, floor) * _LN10)


@numba.njit(cache=True)
def _refit(row: np.ndarray, par: np.ndarray) -> None:
    n = int(par[_N])
    size = int(par[_BUCKET_SIZE])
    buckets = int(par[_BUCKETS])
    keep = int(par[_KEEP])
    newest = (n - 1) // size
    present = min(newest + 1, buckets)
    total = n if newest < buckets else (buckets - 1) * size + (n - newest * size)
    if total < 2:
        return
    # Newest bucket to oldest: ``merged`` holds the largest values seen so far (descending)
    # and each bucket keeps only those of its values that made it in.
    merged = np.empty(keep, dtype=np.float64)
    scratch = np.empty(keep, dtype=np.float64)
    m = 0
    for back in range(present):
        b = (newest - back) % buckets
        start = keep + buckets + b * size
        count = int(row[keep + b])
        values = row[start : start + count]
        values.sort()  # ascending; a bucket being filled is unsorted
        i, j, out = 0, count - 1, 0  # i into merged (desc), j into values (asc, from top)
        while out < keep and (i < m or j >= 0):
            if j < 0 or (i < m and merged[i] >= values[j]):
                scratch[out] = merged[i]
                i += 1
            else:
                scratch[out] = values[j]
                j -= 1
            out += 1
        kept = count - 1 - j  # the bucket's largest ``kept`` values are in the merge
        if kept < count:
            row[start : start + kept] = values[count - kept : count].copy()
            row[start + kept : start + count] = 0.0
            row[keep + b] = kept
        merged[:out] = scratch[:out]
        m = out
    _fit(row, par, merged, total)


@numba.njit(cache=True)
def _add(row: np.ndarray, par: np.ndarray, value: float) -> None:
    """Append one value to the newest bucket (emptying the oldest when a bucket starts)."""
    size = int(par[_BUCKET_SIZE])
    buckets = int(par[_BUCKETS])
    keep = int(par[_KEEP])
    n = int(par[_N])
    b = (n // size) % buckets
    start = keep + buckets + b * size
    if n % size == 0:  # a new bucket takes the oldest one's place
        row[start : start + size] = 0.0
        row[keep + b] = 0.0
    count = int(row[keep + b])
    row[start + count] = value
    row[keep + b] = count + 1
    par[_N] = n + 1.0


@numba.njit(cache=True)
def tail_learn(row: np.ndarray, par: np.ndarray, value: float) -> None:
    """Add one value to the history; refit the tail on schedule."""
    _add(row, par, value)
    n = int(par[_N])
    min_history = int(par[_MIN_HISTORY])
    if n >= min_history and (n == min_history or n % int(par[_REFIT_EVERY]) == 0):
        _refit(row, par)


@numba.njit(cache=True)
def tail_seed(row: np.ndarray, par: np.ndarray, values: np.ndarray) -> None:
    """Learn a calibration sample, then fit once on its last values."""
    history = int(par[_BUCKET_SIZE] * par[_BUCKETS])
    early = max(values.shape[0] - history, 0)
    for i in range(early):
        tail_learn(row, par, values[i])
    for i in range(early, values.shape[0]):
        _add(row, par, values[i])
    if early > 0 and int(par[_N]) % int(par[_BUCKET_SIZE]) != 0:
        # The buckets hold fewer than ``history`` values here: fit on the last ``history``
        # given (the next scheduled refit is exact again).
        last = np.sort(values[early:])[::-1]
        _fit(row, par, last[: int(par[_KEEP])].copy(), history)
    elif par[_N] >= 2:
        _refit(row, par)


@numba.njit(cache=True)
def tail_surprise(row: np.ndarray, par: np.ndarray, value: float) -> float:
    """−log10 of the estimated probability of a value at least this large (pure)."""
    u = par[_U]
    if value != value:  # NaN: no evidence
        return 0.0
    base = par[_BASE]
    if value <= u:
        if u == math.inf or u <= 0.0:
            return 0.0
        return base * value / u if value > 0.0 else 0.0
    s = base + (value - u) * par[_INV_BETA]
    n_top = int(par[_N_TOP])
    k = n_top - np.searchsorted(row[:n_top], value)  # fitted values at least this large
    if k >= _MIN_RECURRENCES:
        # Values this large already recur in the stream's own history: the observed
        # frequency bounds how rare they can be, whatever the fitted tail says.
        s = min(s, -math.log10(min(k / par[_TOTAL], 1.0)))
    return s if s < MAX_SURPRISE else MAX_SURPRISE


class TailCalibrator:
    """Maps a non-negative feature value to a surprise in [0, MAX_SURPRISE].

    Below the tail threshold ``u`` the surprise rises linearly from 0 to
    ``-log10(tail_fraction)``; above it, ``-log10(tail_fraction) + (v - u) / (β ln 10)``
    with β the exponential scale of the excess over ``u``. Until ``min_history`` values
    were learned the surprise is 0 (no evidence yet). One object per feature, for callers
    that calibrate a few features one value at a time (trends, PCA statistics).
    """

    __slots__ = ("_par", "_row")

    def __init__(
        self,
        history: int = 3000,
        refit_every: int = 50,
        tail_fraction: float = 0.05,
        min_history: int = 100,
        min_scale: float = 0.0,
    ) -> None:
        self._par = new_tail_params(history, refit_every, tail_fraction, min_history, min_scale)
        self._row = np.zeros(tail_row_len(history, refit_every, tail_fraction))

    def seed(self, values: list[float]) -> None:
        """Learn a batch of values and fit at once (calibration from a warm-up sample)."""
        tail_seed(self._row, self._par, np.asarray(values, dtype=np.float64))

    @property
    def ready(self) -> bool:
        """True once the tail has been fitted at least once."""
        return bool(self._par[_U] != math.inf)

    def surprise(self, value: float) -> float:
        """−log10 of the estimated probability of a value at least this large."""
        return float(tail_surprise(self._row, self._par, value))

    def learn(self, value: float) -> None:
        """Add one value to the history; refit the tail on schedule."""
        tail_learn(self._row, self._par, value)
