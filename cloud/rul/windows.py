"""Trailing-window features of one unit's health signals, causal row by row.

Row ``i`` of the result describes the unit as it was seen at row ``i``: only rows
``0..i`` enter it, so a model trained on every row of run-to-failure histories sees the
same kind of input it gets later from a unit still in service (a history of any length).
Windows shorter than asked for at the start of a history use the rows there are.

Per signal: the level (trailing mean, which averages the per-row sensor noise out), the
trend over the window and over a four times longer one (degradation accelerates towards
failure, so short and long slopes differ near the end), and the drift from the unit's own
first rows (units start with different wear and manufacturing variation; the change
since the start is less confounded by that than the level). Plus the age in rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LONG_WINDOW_FACTOR", "feature_count", "trailing_features"]

LONG_WINDOW_FACTOR = 4
"""The long trend's window, in short windows."""

FEATURES_PER_SIGNAL = 4


def feature_count(signals: int) -> int:
    """Columns :func:`trailing_features` returns for ``signals`` input columns."""
    return FEATURES_PER_SIGNAL * signals + 1


def trailing_features(signals: np.ndarray, window: int) -> np.ndarray:
    """Features of every row of one unit's ``(rows, signals)`` history, causal.

    Columns: trailing means, trailing slopes (per row), long trailing slopes, drifts
    since the first ``window`` rows (one block of ``signals`` columns each), then the age
    (rows seen so far). ``window`` must be at least 1.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 row, got {window}")
    x = np.asarray(signals, dtype=np.float64)
    level = _trailing_mean(x, window)
    slope = _trailing_slope(x, window)
    long_slope = _trailing_slope(x, LONG_WINDOW_FACTOR * window)
    drift = level - _early_mean(x, window)
    age = np.arange(1, x.shape[0] + 1, dtype=np.float64)[:, None]
    return np.hstack([level, slope, long_slope, drift, age])


def _window_starts(rows: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """First row of each row's trailing window, and how many rows it holds."""
    ends = np.arange(rows)
    starts = np.maximum(ends - window + 1, 0)
    return starts, (ends - starts + 1).astype(np.float64)


def _prefix(values: np.ndarray) -> np.ndarray:
    """Cumulative sums with a leading zero row: sum of rows a..b-1 is p[b] - p[a]."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]), dtype=np.float64)
    np.cumsum(values, axis=0, out=out[1:])
    return out


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    starts, counts = _window_starts(x.shape[0], window)
    p = _prefix(x)
    ends = np.arange(1, x.shape[0] + 1)
    mean: np.ndarray = (p[ends] - p[starts]) / counts[:, None]
    return mean


def _trailing_slope(x: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope per row over the trailing window; 0 for a one-row window."""
    rows = x.shape[0]
    starts, counts = _window_starts(rows, window)
    ends = np.arange(1, rows + 1)
    # Time measured from each window's own start keeps the sums small and exact.
    t = np.arange(rows, dtype=np.float64)
    px, ptx = _prefix(x), _prefix(x * t[:, None])
    sum_x = px[ends] - px[starts]
    sum_tx = ptx[ends] - ptx[starts] - starts[:, None] * sum_x
    k = counts
    sum_t = k * (k - 1) / 2.0
    sum_tt = (k - 1) * k * (2 * k - 1) / 6.0
    denominator = sum_tt - sum_t**2 / k
    numerator = sum_tx - (sum_t / k)[:, None] * sum_x
    with np.errstate(invalid="ignore", divide="ignore"):
        slope: np.ndarray = numerator / denominator[:, None]
    slope[k < 2] = 0.0
    return slope


def _early_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the unit's first ``window`` rows, as far as row ``i`` has seen them."""
    p = _prefix(x)
    seen = np.minimum(np.arange(1, x.shape[0] + 1), window)
    return p[seen] / seen[:, None].astype(np.float64)
