"""The per-stream univariate kernel: every metric of a batch of samples in one call.

Why a kernel: per metric and sample the work is a few dozen float operations (EWMAs,
a seasonal bin, two window sums, five tail look-ups); done in Python, interpreter
overhead is most of the cost. Here the state of all metrics of one stream is a handful
of arrays (one row per metric, see :class:`~cloud.detect.univariate.UnivariateState`)
and one ``numba.njit`` call runs a whole batch, in sample order then metric order, with
the same arithmetic the views are documented with in :mod:`cloud.detect.univariate`.
No fastmath: results are deterministic and match between batch sizes.

Compilation: the first call in a process compiles (seconds); ``cache=True`` stores the
machine code beside the sources, so later processes load it in well under a second.
Numba checks a cached function against its own file only: after editing
:mod:`cloud.detect.tail` or :mod:`cloud.detect.seasonal` in a working copy, delete the
``__pycache__/*.nbi``/``*.nbc`` files (a fresh install has none).

Row layout of the metric parameters (float64), by index constant below; profiles and
tails keep their own row layouts (:mod:`cloud.detect.seasonal`, :mod:`cloud.detect.tail`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from cloud.detect.seasonal import (
    N_BINS_AT,
    SCALE_AT,
    STRONG,
    profile_expected,
    profile_init,
    profile_learn,
    profile_ready,
)
from cloud.detect.tail import MAX_SURPRISE, tail_learn, tail_surprise

__all__ = ["N_CONFIG", "N_METRIC_PARAMS", "N_VIEWS", "config_row", "run_batch"]

N_VIEWS = 5
"""level, daily, weekly, burst, drift (:data:`cloud.detect.univariate.FEATURES`)."""
_DAY_S = 86_400.0
_WEEK_S = 7 * _DAY_S
_SETTLE_SAMPLES = 20
"""Samples before the level scale means anything; features are not calibrated on them."""
_FIRST_TIMES = 6
"""Timestamps looked at to find the sampling interval (their median step)."""

# Metric parameter row (float64).
N, LEVEL, _SCALE, _SLOW_SCALE, RESOLUTION, _HALF_RES, _LAST, FLOOR = 0, 1, 2, 3, 4, 5, 6, 7
_BURST_SUM, _DRIFT_SUM, _PUSHES, _DECIDED, _N_FIRST, _T_FIRST = 8, 9, 10, 11, 12, 13
N_METRIC_PARAMS = _T_FIRST + _FIRST_TIMES

# Config row (float64), from UnivariateConfig and the warm-up length.
_LEVEL_ALPHA, _SCALE_ALPHA, _CLIP_Z, _BURST_LEN, _DRIFT_LEN, _SEASONAL_ALPHA = 0, 1, 2, 3, 4, 5
_SLOW_SCALE_ALPHA, _SCALE_FLOOR, _WARMUP = 6, 7, 8
N_CONFIG = 9


def config_row(
    level_alpha: float,
    scale_alpha: float,
    clip_z: float,
    burst_len: int,
    drift_len: int,
    seasonal_alpha: float,
    slow_scale_alpha: float,
    scale_floor: float,
    warmup_samples: int,
) -> np.ndarray:
    """The kernel's view of the configuration (one float64 row)."""
    return np.array(
        [
            level_alpha,
            scale_alpha,
            clip_z,
            burst_len,
            drift_len,
            seasonal_alpha,
            slow_scale_alpha,
            scale_floor,
            warmup_samples,
        ],
        dtype=np.float64,
    )


@numba.njit(cache=True)
def _features(
    cfg: np.ndarray,
    p: np.ndarray,
    recent: np.ndarray,
    prof: np.ndarray,
    bins: np.ndarray,
    t: float,
    v: float,
    feats: np.ndarray,
) -> float:
    """Fill ``feats`` (raw view values, NaN where a view cannot judge); returns z_best."""
    floor = p[FLOOR]
    scale = p[_SCALE]
    z_level = (v - p[LEVEL]) / max(scale, floor)
    best_z, best_scale = z_level, scale
    feats[0] = abs(z_level)
    for k in range(2):
        feats[1 + k] = math.nan
        row = prof[k]
        if row[N_BINS_AT] == 0.0 or not profile_ready(row, t):
            continue
        expected = profile_expected(row, bins[k], t)
        if expected != expected:
            continue
        pscale = row[SCALE_AT]
        z = (v - expected) / max(pscale, floor)
        feats[1 + k] = abs(z)
        if row[STRONG] != 0.0 and pscale < best_scale:
            best_z, best_scale = z, pscale
    # Windows over the recent z_best values, the new one included (running sums over the
    # last len - 1 values are kept by _push_recent).
    n_rec = min(p[_PUSHES], recent.shape[0])
    burst_n = min(cfg[_BURST_LEN] - 1.0, n_rec)
    drift_n = min(cfg[_DRIFT_LEN] - 1.0, n_rec)
    feats[3] = (p[_BURST_SUM] + abs(best_z)) / (burst_n + 1.0)
    feats[4] = abs(p[_DRIFT_SUM] + best_z) / (drift_n + 1.0)
    return float(best_z)


@numba.njit(cache=True)
def _judge(
    prof: np.ndarray, tpar: np.ndarray, tails: np.ndarray, feats: np.ndarray
) -> tuple[float, int]:
    """(surprise, view index) over the views allowed to judge, Bonferroni-corrected."""
    best, best_view, views = 0.0, 0, 0
    for k in range(N_VIEWS):
        if (k == 1 or k == 2) and prof[k - 1, STRONG] == 0.0:
            continue  # seasonal views judge only while the stream is periodic
        views += 1
        f = feats[k]
        s = tail_surprise(tails[k], tpar[k], f) if f == f else 0.0
        if s > best:
            best, best_view = s, k
    # Multiple testing: the largest of ``views`` surprises is less rare than any one of
    # them (Bonferroni), so more views must not mean more false alarms.
    best -= math.log10(views)
    if best < 0.0:
        best = 0.0
    return min(best, MAX_SURPRISE), best_view


@numba.njit(cache=True)
def _push_recent(cfg: np.ndarray, p: np.ndarray, recent: np.ndarray, z: float) -> None:
    """Append z and keep the window sums equal to sums over the last len - 1 values."""
    size = recent.shape[0]
    burst_len = int(cfg[_BURST_LEN])
    drift_len = int(cfg[_DRIFT_LEN])
    pushed = int(p[_PUSHES])
    recent[pushed % size] = z
    pushed += 1
    p[_PUSHES] = pushed
    n = min(pushed, size)
    if pushed % 1000 == 0:  # recompute exactly: no floating-point creep
        burst, drift = 0.0, 0.0
        for j in range(max(pushed - (burst_len - 1), pushed - n), pushed):
            burst += abs(recent[j % size])
        for j in range(max(pushed - (drift_len - 1), pushed - n), pushed):
            drift += recent[j % size]
        p[_BURST_SUM], p[_DRIFT_SUM] = burst, drift
        return
    p[_BURST_SUM] += abs(z)
    if n > burst_len - 1:
        p[_BURST_SUM] -= abs(recent[(pushed - burst_len) % size])
    p[_DRIFT_SUM] += z
    if n > drift_len - 1:
        p[_DRIFT_SUM] -= recent[(pushed - drift_len) % size]


@numba.njit(cache=True)
def _learn_level(cfg: np.ndarray, p: np.ndarray, v: float) -> None:
    n = p[N] + 1.0
    p[N] = n
    if n == 1.0:
        p[LEVEL] = v
        p[_LAST] = v
        return
    r = v - p[LEVEL]
    ar = abs(r)
    cap = cfg[_CLIP_Z] * p[_SCALE] if n > 20.0 else ar
    inv_n = 1.0 / n
    a_s = max(cfg[_SCALE_ALPHA], inv_n)
    p[_SCALE] += a_s * (min(ar, cap) - p[_SCALE])
    clipped = r if ar <= cap else math.copysign(cap, r)
    p[LEVEL] += max(cfg[_LEVEL_ALPHA], inv_n) * clipped
    # Long-run scale and resolution floor the fast scale: a stream that is flat for a
    # while (zeros between bursts, a quantised sensor) must not make tiny changes look
    # like thousands of deviations.
    a_slow = max(cfg[_SLOW_SCALE_ALPHA], inv_n)
    slow_cap = 3.0 * cfg[_CLIP_Z] * p[_SLOW_SCALE] if n > 20.0 else ar
    p[_SLOW_SCALE] += a_slow * (min(ar, slow_cap) - p[_SLOW_SCALE])
    step = abs(v - p[_LAST])
    if 0.0 < step < p[RESOLUTION]:
        p[RESOLUTION] = step
        p[_HALF_RES] = 0.5 * step
    p[_LAST] = v
    p[FLOOR] = max(cfg[_SCALE_FLOOR] * p[_SLOW_SCALE], p[_HALF_RES], 1e-9 * (1.0 + abs(v)))


@numba.njit(cache=True)
def _learn_seasonal(
    cfg: np.ndarray, p: np.ndarray, prof: np.ndarray, bins: np.ndarray, t: float, v: float
) -> None:
    if p[_DECIDED] == 0.0:
        # The sampling interval (median step of the first timestamps) decides which
        # periods a profile can resolve at all.
        n_first = int(p[_N_FIRST])
        p[_T_FIRST + n_first] = t
        n_first += 1
        p[_N_FIRST] = n_first
        if n_first < _FIRST_TIMES:
            return
        diffs = np.sort(np.diff(p[_T_FIRST : _T_FIRST + _FIRST_TIMES]))
        dt = diffs[len(diffs) // 2]
        if not dt > 0.0:
            p[_T_FIRST : _T_FIRST + _FIRST_TIMES - 1] = p[_T_FIRST + 1 : _T_FIRST + _FIRST_TIMES]
            p[_N_FIRST] = _FIRST_TIMES - 1
            return
        for k in range(2):
            period = _DAY_S if k == 0 else _WEEK_S
            if dt <= period / 12.0:
                profile_init(prof[k], bins[k], period, dt, cfg[_SEASONAL_ALPHA], 0.02)
        p[_DECIDED] = 1.0
        p[_N_FIRST] = 0.0
        return
    for k in range(2):
        if prof[k, N_BINS_AT] != 0.0:
            profile_learn(prof[k], bins[k], t, v)


@numba.njit(cache=True)
def _learn(
    cfg: np.ndarray,
    p: np.ndarray,
    recent: np.ndarray,
    prof: np.ndarray,
    bins: np.ndarray,
    tpar: np.ndarray,
    tails: np.ndarray,
    t: float,
    v: float,
    feats: np.ndarray,
    z_best: float,
) -> None:
    if p[N] >= _SETTLE_SAMPLES:
        for k in range(N_VIEWS):
            f = feats[k]
            if f == f:  # a view that cannot judge yet (NaN) must not teach it
                tail_learn(tails[k], tpar[k], f)
    _push_recent(cfg, p, recent, z_best)
    _learn_level(cfg, p, v)
    _learn_seasonal(cfg, p, prof, bins, t, v)


@numba.njit(cache=True)
def run_batch(
    cfg: np.ndarray,
    params: np.ndarray,
    recent: np.ndarray,
    prof: np.ndarray,
    bins: np.ndarray,
    tpar: np.ndarray,
    tails: np.ndarray,
    ts: np.ndarray,
    values: np.ndarray,
    judge: bool,
    learn: bool,
    held: np.ndarray,
    surprise: np.ndarray,
    z: np.ndarray,
    view: np.ndarray,
    baseline: np.ndarray,
) -> None:
    """Judge (if ``judge``) then learn (if ``learn``) ``values[i, m]`` at ``ts[i]``.

    Non-finite values carry no evidence and teach nothing. Outputs per (sample, metric):
    ``surprise`` (NaN where there is no reading: missing value, metric warming up, or not
    judging), ``z``, ``view`` (index into FEATURES) and ``baseline`` (level before
    learning). With ``learn`` false no state changes; a metric whose ``held[m]`` is set
    is judged but teaches nothing.
    """
    feats = np.empty(N_VIEWS, dtype=np.float64)
    warmup = cfg[_WARMUP]
    for i in range(values.shape[0]):
        t = ts[i]
        for m in range(values.shape[1]):
            surprise[i, m] = math.nan
            v = values[i, m]
            if not math.isfinite(v):
                continue
            p = params[m]
            z_best = _features(cfg, p, recent[m], prof[m], bins[m], t, v, feats)
            if judge and p[N] >= warmup:
                s, k = _judge(prof[m], tpar[m], tails[m], feats)
                surprise[i, m] = s
                z[i, m] = z_best
                view[i, m] = k
                baseline[i, m] = p[LEVEL]
            if learn and not held[m]:
                _learn(cfg, p, recent[m], prof[m], bins[m], tpar[m], tails[m], t, v, feats, z_best)
