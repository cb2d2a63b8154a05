"""Seasonal (time-of-day, day-of-week) profile of one metric, learned from timestamps.

Why: a device's normal behaviour often repeats daily or weekly (usage, ambient
temperature, traffic). A level baseline sees every regular swing as a surprise and a
regular swing that *fails* to happen as nothing; a profile indexed by phase in the period
catches both. The profile is learned online: each bin keeps an exponentially weighted
value of the samples that fell into it, so it follows slow changes of the pattern.

State is one float64 parameter row (:data:`N_PROFILE_PARAMS`) and one float32 row of
:data:`MAX_BINS` bin values (NaN where never visited), so the per-stream kernel
(:mod:`cloud.detect.kernel`) holds every metric's profiles as two arrays; the ``njit``
functions here are the one implementation, :class:`SeasonalProfile` wraps one row.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "MAX_BINS",
    "MIN_BIN_S",
    "N_PROFILE_PARAMS",
    "SeasonalProfile",
    "profile_expected",
    "profile_init",
    "profile_learn",
    "profile_ready",
]

MAX_BINS = 2016
"""A week at 5-minute resolution: bounded memory per metric."""
MIN_BIN_S = 300.0
"""Bins are at least 5 minutes wide: finer sampling shares bins (a daily profile of
minute samples has 288 bins, not 1440), which bounds memory and averages a bin over
several samples per period instead of trusting one."""

# Parameter row layout (float64); two groups of exponentially weighted co-moments for the
# periodicity test follow at _CO_FULL and _CO_HALF: weight, mean a, mean b, Caa, Cbb, Cab.
_N_BINS, _PERIOD, _BIN_S, _ALPHA, _SCALE_ALPHA, _SCALE, _T0, _VISITS = 0, 1, 2, 3, 4, 5, 6, 7
_SLOT, _SLOT_SUM, _SLOT_N, _PUSHED, _TEST_EVERY, STRONG, _REF_FULL, _REF_HALF = (
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
)
_DECAY, _CO_FULL, _CO_HALF = 16, 17, 23
N_PROFILE_PARAMS = 29
"""Length of a profile's parameter row; ``row[N_BINS_AT] == 0`` means "no profile"."""
N_BINS_AT = _N_BINS
SCALE_AT = _SCALE


@numba.njit(cache=True)
def profile_init(
    par: np.ndarray,
    bins: np.ndarray,
    period_s: float,
    sample_interval_s: float,
    alpha: float = 0.3,
    scale_alpha: float = 0.02,
) -> None:
    """Make ``par``/``bins`` an empty profile of ``period_s`` for the given sampling."""
    n_bins = min(MAX_BINS, max(1, round(period_s / max(sample_interval_s, MIN_BIN_S))))
    par[:] = 0.0
    par[_N_BINS] = n_bins
    par[_PERIOD] = period_s
    par[_BIN_S] = period_s / n_bins
    par[_ALPHA] = alpha
    par[_SCALE_ALPHA] = scale_alpha
    par[_T0] = math.nan
    par[_SLOT] = -1.0
    par[_TEST_EVERY] = max(n_bins // 8, 1)
    par[_DECAY] = 1.0 - 1.0 / (2 * n_bins)
    bins[:] = np.nan


@numba.njit(cache=True)
def profile_ready(par: np.ndarray, t: float) -> bool:
    """True once a whole period has been seen and the residual scale has settled.

    A ready profile is scored (so its calibration learns); it is only *trusted* for
    alerts while strong (the stream demonstrably has the period).
    """
    return bool(par[_N_BINS] > 0.0 and t - par[_T0] >= par[_PERIOD] and par[_VISITS] >= 10.0)


@numba.njit(cache=True)
def profile_expected(par: np.ndarray, bins: np.ndarray, t: float) -> float:
    """Learned value for the phase of ``t`` (NaN if never seen)."""
    n = int(par[_N_BINS])
    return float(bins[math.floor(t / par[_BIN_S]) % n])


@numba.njit(cache=True)
def profile_learn(par: np.ndarray, bins: np.ndarray, t: float, value: float) -> None:
    """Fold one sample into its phase bin, the residual scale and the periodicity test."""
    n = int(par[_N_BINS])
    if par[_T0] != par[_T0]:
        par[_T0] = t
    slot = math.floor(t / par[_BIN_S])
    i = int(slot) % n
    if slot == par[_SLOT]:  # the common case: same bin-wide slot as the last sample
        par[_SLOT_SUM] += value
        par[_SLOT_N] += 1.0
    else:
        if par[_SLOT] >= 0.0:
            _close_slot(par, min(max(slot - par[_SLOT], 1.0), float(n)))
        par[_SLOT], par[_SLOT_SUM], par[_SLOT_N] = slot, value, 1.0
        # What the profile predicted for this slot (and for the slot half a period
        # away) before this period's samples change it: the periodicity test's pairs.
        par[_REF_FULL] = bins[i]
        par[_REF_HALF] = bins[(i + max(n // 2, 1)) % n]
    old = float(bins[i])
    if old != old:  # NaN: first visit of this phase
        bins[i] = value
        return
    resid = abs(value - old)
    visits = par[_VISITS] + 1.0
    par[_VISITS] = visits
    a = max(1.0 / visits, par[_SCALE_ALPHA])
    if visits > 20.0:
        resid = min(resid, 4.0 * par[_SCALE])
    par[_SCALE] += a * (resid - par[_SCALE])
    bins[i] = old + par[_ALPHA] * (value - old)


@numba.njit(cache=True)
def _close_slot(par: np.ndarray, gap: float) -> None:
    """Close the slot just left (and count the ``gap - 1`` skipped ones); test on schedule."""
    mean = par[_SLOT_SUM] / par[_SLOT_N]
    _co_update(par, _CO_FULL, mean, par[_REF_FULL])
    _co_update(par, _CO_HALF, mean, par[_REF_HALF])
    n = par[_N_BINS]
    before = par[_PUSHED]
    after = before + gap
    par[_PUSHED] = after
    every = par[_TEST_EVERY]
    if after >= 2.0 * n and math.floor(after / every) > math.floor(before / every):
        par[STRONG] = 1.0 if _periodic(par) else 0.0


@numba.njit(cache=True)
def _co_update(par: np.ndarray, at: int, a: float, b: float) -> None:
    """Exponentially weighted mean / co-moment update (West's form: no cancellation)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return
    d = par[_DECAY]
    w = par[at] * d + 1.0
    da = a - par[at + 1]
    db = b - par[at + 2]
    par[at + 1] += da / w
    par[at + 2] += db / w
    par[at + 3] = par[at + 3] * d + da * (a - par[at + 1])
    par[at + 4] = par[at + 4] * d + db * (b - par[at + 2])
    par[at + 5] = par[at + 5] * d + da * (b - par[at + 2])
    par[at] = w


@numba.njit(cache=True)
def _corr(par: np.ndarray, at: int) -> float:
    if par[at] < 10.0:
        return 0.0
    caa, cbb = par[at + 3], par[at + 4]
    if caa <= 0.0 or cbb <= 0.0:
        return 0.0
    return float(par[at + 5] / math.sqrt(caa * cbb))


@numba.njit(cache=True)
def _periodic(par: np.ndarray) -> bool:
    """Is each slot better predicted by the profile one period back than half one back?

    Seasonal views are only trusted when the stream demonstrably repeats: a daily
    profile on a stream without a daily pattern only adds false alarms. Requiring the
    correlation of each slot's mean with the profile's value for its phase (learned from
    earlier periods) to be strong *and* above the one with the profile half a period
    away rejects trends and random walks, which are correlated at every lag. The
    correlations are exponentially weighted over about two periods of slots, so the
    test keeps no copy of the series.
    """
    r_full = _corr(par, _CO_FULL)
    r_half = _corr(par, _CO_HALF)
    return r_full >= 0.5 and r_full >= r_half + 0.2


class SeasonalProfile:
    """Expected value per phase bin of a period, plus the typical residual size.

    ``expected(t)`` is NaN until the bin has been visited: a profile makes no claim about
    a phase it has never seen. One row of the kernel's state, for use on its own.
    """

    __slots__ = ("_bins", "_par")

    def __init__(
        self,
        period_s: float,
        sample_interval_s: float,
        alpha: float = 0.3,
        scale_alpha: float = 0.02,
    ) -> None:
        self._par = np.zeros(N_PROFILE_PARAMS, dtype=np.float64)
        self._bins = np.empty(MAX_BINS, dtype=np.float32)
        profile_init(self._par, self._bins, period_s, sample_interval_s, alpha, scale_alpha)

    @property
    def strong(self) -> bool:
        """True while the stream demonstrably has this period."""
        return bool(self._par[STRONG] != 0.0)

    @property
    def scale(self) -> float:
        """Exponentially weighted mean absolute residual against the profile."""
        return float(self._par[_SCALE])

    def ready(self, t: float) -> bool:
        """See :func:`profile_ready`."""
        return bool(profile_ready(self._par, t))

    def expected(self, t: float) -> float:
        """Learned value for the phase of ``t`` (NaN if never seen)."""
        return float(profile_expected(self._par, self._bins, t))

    def learn(self, t: float, value: float) -> None:
        """Fold one sample into its phase bin and the residual scale."""
        profile_learn(self._par, self._bins, t, value)
