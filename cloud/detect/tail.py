"""Online calibration of a raw anomaly feature into a surprise (−log10 tail probability).

Why: raw features (robust z, window means, residual norms) live on scales that differ per
stream, per metric and per feature. Turning each into "how rare is a value this large in
*this* stream's own recent history" gives one common scale, so that one global threshold
means the same false-alarm rate everywhere, and nothing has to be tuned per file.

The tail above the ``1 - tail_fraction`` quantile is modelled as exponential (the
peaks-over-threshold idea with a shape parameter of 0): it extrapolates beyond the largest
value seen, which an empirical quantile cannot do with a few hundred samples. The fit is
bounded by recurrence (a value exceeded ≥ 10 times in the history is at most as rare as
that count says: recurring spikes are normal for that stream).

State is compact: the history is kept as counts over :data:`N_BINS` log-spaced bins
(7.5 % wide) in buckets of consecutive values (:data:`HIST_LEN`), not as the values
themselves: mostly zeros and small integers, about a kilobyte once compressed instead of
24 kB. The quantile ``u``, the median excess over it and the recurrence counts are
read off the histogram, interpolated within a bin (uniform in log). The fit is refreshed
every ``refit_every`` learned values, so the result depends only on the number and order
of learned values (causal and deterministic).

The arithmetic lives in the ``njit`` functions below, over one histogram row and one
parameter row, so the per-stream kernel (:mod:`cloud.detect.kernel`) and the
:class:`TailCalibrator` object used one at a time share one implementation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "HIST_LEN",
    "MAX_SURPRISE",
    "N_BINS",
    "N_TAIL_PARAMS",
    "TailCalibrator",
    "new_tail_params",
    "tail_learn",
    "tail_surprise",
]

MAX_SURPRISE = 12.0
"""Cap on surprise: beyond one in 10^12 the exact figure carries no information."""

_LN10 = math.log(10.0)
_LN2 = math.log(2.0)
_MIN_EXCEEDANCES = 25
_MIN_RECURRENCES = 10
_LOW = 1e-3
"""Upper edge of the first bin, which holds [0, 1e-3) linearly: features are scaled to the
stream's own deviations, so anything this small is "nothing"."""
_PER_DECADE = 32
_DECADES = 8
N_BINS = 2 + _PER_DECADE * _DECADES
"""Bins: [0, 1e-3), 256 log-spaced ones up to 1e5 (ratio 1.075), and one above."""
_BUCKETS = 7
HIST_LEN = (1 + _BUCKETS) * N_BINS
"""A histogram row: the counts at the last fit from the bin of ``u`` up (the recurrence
bound reads the fitted history, as the fitted tail does: values of an incident in
progress do not make themselves normal before the next fit), then seven buckets of
``history / 6`` consecutive values each. The window is the buckets together; the oldest
is cleared when the newest starts, so the window holds the last ``history`` values plus
up to a sixth more, and an old value leaves it at most that much later than it would
leave a ring buffer. (A decayed or thinned histogram lets huge start-up values linger
much longer, and a window shorter than ``history`` forgets normal behaviour too early:
both cost detection quality.)"""

# Parameter row layout (float64).
_N, _U, _BASE, _INV_BETA, _TOTAL = 0, 1, 2, 3, 4
_BUCKET_SIZE, _REFIT_EVERY, _TAIL_FRACTION, _MIN_HISTORY, _MIN_SCALE = 5, 6, 7, 8, 9
N_TAIL_PARAMS = 10


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
    par = np.zeros(N_TAIL_PARAMS, dtype=np.float64)
    par[_U] = math.inf
    par[_BASE] = -math.log10(tail_fraction)
    par[_BUCKET_SIZE] = max(history // (_BUCKETS - 1), 1)
    par[_REFIT_EVERY] = refit_every
    par[_TAIL_FRACTION] = tail_fraction
    par[_MIN_HISTORY] = min_history
    par[_MIN_SCALE] = min_scale
    return par


@numba.njit(cache=True)
def _bin_of(value: float) -> int:
    if not value >= _LOW:
        return 0
    if value >= _LOW * 10.0**_DECADES:
        return N_BINS - 1
    b = 1 + int(math.log10(value / _LOW) * _PER_DECADE)
    return b if b < N_BINS - 1 else N_BINS - 1


@numba.njit(cache=True)
def _share_above(value: float, b: int) -> float:
    """Share of bin ``b``'s mass above ``value`` (uniform in log within a bin)."""
    if b == 0:
        return 1.0 - value / _LOW
    if b == N_BINS - 1:
        return 1.0
    position = math.log10(value / _LOW) * _PER_DECADE - (b - 1)
    return 1.0 - min(max(position, 0.0), 1.0)


@numba.njit(cache=True)
def _value_above_mass(hist: np.ndarray, mass: float) -> float:
    """The value with ``mass`` (counts) above it, interpolated in its bin."""
    above = 0.0
    for b in range(N_BINS - 1, -1, -1):
        h = float(hist[b])
        if h > 0.0 and above + h >= mass:
            from_top = (mass - above) / h  # share of this bin's mass above the value
            if b == 0:
                return _LOW * (1.0 - from_top)
            lower = _LOW * 10.0 ** ((b - 1) / _PER_DECADE)
            return float(lower * 10.0 ** ((1.0 - from_top) / _PER_DECADE))
        above += h
    return 0.0


@numba.njit(cache=True)
def _refit(hist: np.ndarray, par: np.ndarray) -> None:
    window = np.zeros(N_BINS, dtype=np.float64)
    for j in range(_BUCKETS):
        offset = (1 + j) * N_BINS
        for b in range(N_BINS):
            window[b] += float(hist[offset + b])
    total = window.sum()
    if total <= 0.0:
        return
    n_tail = max(int(total * par[_TAIL_FRACTION]), min(_MIN_EXCEEDANCES, int(total) // 5), 1)
    u = _value_above_mass(window, float(n_tail))
    # Median excess / ln 2 estimates the exponential scale robustly: a handful of absurd
    # values (start-up transients, earlier incidents) cannot flatten the tail.
    beta = (_value_above_mass(window, 0.5 * n_tail) - u) / _LN2
    # A tail with no spread (constant feature) still needs a finite slope: any value
    # above it is then very surprising, which is the right answer for a stuck signal.
    floor = max(1e-6 * max(abs(u), 1e-3), par[_MIN_SCALE])
    at_u = _bin_of(u)
    for b in range(N_BINS):
        hist[b] = window[b] if b >= at_u else 0.0
    par[_TOTAL] = total
    par[_U] = u
    par[_BASE] = -math.log10(n_tail / total) if n_tail < total else 0.0
    par[_INV_BETA] = 1.0 / (max(beta, floor) * _LN10)


@numba.njit(cache=True)
def _add(hist: np.ndarray, par: np.ndarray, value: float) -> None:
    """Count one value in the newest bucket (clearing the oldest when a bucket is full)."""
    size = int(par[_BUCKET_SIZE])
    n = int(par[_N])
    full = n // size
    offset = (1 + full % _BUCKETS) * N_BINS
    if n > 0 and n == full * size:  # the newest bucket starts afresh
        for b in range(N_BINS):
            hist[offset + b] = 0.0
    hist[offset + _bin_of(value)] += 1.0
    par[_N] = n + 1.0


@numba.njit(cache=True)
def tail_learn(hist: np.ndarray, par: np.ndarray, value: float) -> None:
    """Add one value to the history; refit the tail on schedule."""
    _add(hist, par, value)
    n = int(par[_N])
    min_history = int(par[_MIN_HISTORY])
    if n >= min_history and (n == min_history or n % int(par[_REFIT_EVERY]) == 0):
        _refit(hist, par)


@numba.njit(cache=True)
def tail_seed(hist: np.ndarray, par: np.ndarray, values: np.ndarray) -> None:
    """Learn a calibration sample, then fit once."""
    for v in values:
        _add(hist, par, v)
    if par[_N] >= 2:
        _refit(hist, par)


@numba.njit(cache=True)
def tail_surprise(hist: np.ndarray, par: np.ndarray, value: float) -> float:
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
    at = _bin_of(value)
    k = float(hist[at]) * _share_above(value, at)  # fitted values at least this large
    for b in range(at + 1, N_BINS):
        k += float(hist[b])
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

    __slots__ = ("_hist", "_par")

    def __init__(
        self,
        history: int = 3000,
        refit_every: int = 50,
        tail_fraction: float = 0.05,
        min_history: int = 100,
        min_scale: float = 0.0,
    ) -> None:
        self._par = new_tail_params(history, refit_every, tail_fraction, min_history, min_scale)
        self._hist = np.zeros(HIST_LEN, dtype=np.float32)

    def seed(self, values: list[float]) -> None:
        """Learn a batch of values and fit at once (calibration from a warm-up sample)."""
        tail_seed(self._hist, self._par, np.asarray(values, dtype=np.float64))

    @property
    def ready(self) -> bool:
        """True once the tail has been fitted at least once."""
        return bool(self._par[_U] != math.inf)

    def surprise(self, value: float) -> float:
        """−log10 of the estimated probability of a value at least this large."""
        return float(tail_surprise(self._hist, self._par, value))

    def learn(self, value: float) -> None:
        """Add one value to the history; refit the tail on schedule."""
        tail_learn(self._hist, self._par, value)
