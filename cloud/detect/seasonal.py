"""Seasonal (time-of-day, day-of-week) profile of one metric, learned from timestamps.

Why: a device's normal behaviour often repeats daily or weekly (usage, ambient
temperature, traffic). A level baseline sees every regular swing as a surprise and a
regular swing that *fails* to happen as nothing; a profile indexed by phase in the period
catches both. The profile is learned online: each bin keeps an exponentially weighted
value of the samples that fell into it, so it follows slow changes of the pattern.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SeasonalProfile"]

MAX_BINS = 2016
"""A week at 5-minute resolution; finer sampling shares bins (bounded memory per metric)."""


class SeasonalProfile:
    """Expected value per phase bin of a period, plus the typical residual size.

    ``expected(t)`` is NaN until the bin has been visited: a profile makes no claim about
    a phase it has never seen.
    """

    __slots__ = (
        "_alpha",
        "_bin_s",
        "_bins",
        "_period_s",
        "_pushed",
        "_scale",
        "_scale_alpha",
        "_series",
        "_slot",
        "_slot_n",
        "_slot_sum",
        "_t0",
        "_test_every",
        "strong",
        "visits",
    )

    def __init__(
        self,
        period_s: float,
        sample_interval_s: float,
        alpha: float = 0.3,
        scale_alpha: float = 0.02,
    ) -> None:
        n_bins = min(MAX_BINS, max(1, round(period_s / sample_interval_s)))
        self._period_s = period_s
        self._bin_s = period_s / n_bins
        self._bins: list[float] = [math.nan] * n_bins
        self._alpha = alpha
        self._scale_alpha = scale_alpha
        self._scale = 0.0
        self._t0 = math.nan
        self.visits = 0
        self._slot = -1
        self._slot_sum = 0.0
        self._slot_n = 0
        self._series: list[float] = [math.nan] * (3 * n_bins)
        self._pushed = 0
        self._test_every = max(n_bins // 8, 1)
        self.strong = False

    def ready(self, t: float) -> bool:
        """True once a whole period has been seen and the residual scale has settled.

        A ready profile is scored (so its calibration learns); it is only *trusted* for
        alerts while ``strong`` (the stream demonstrably has the period).
        """
        return t - self._t0 >= self._period_s and self.visits >= 10

    def _index(self, t: float) -> int:
        return int(t // self._bin_s) % len(self._bins)

    def expected(self, t: float) -> float:
        """Learned value for the phase of ``t`` (NaN if never seen)."""
        return self._bins[self._index(t)]

    @property
    def scale(self) -> float:
        """Exponentially weighted mean absolute residual against the profile."""
        return self._scale

    def learn(self, t: float, value: float) -> None:
        """Fold one sample into its phase bin and the residual scale."""
        if self._t0 != self._t0:
            self._t0 = t
        slot = int(t // self._bin_s)
        if slot == self._slot:  # the common case: same bin-wide slot as the last sample
            self._slot_sum += value
            self._slot_n += 1
        elif slot == self._slot + 1 and self._slot >= 0:  # next slot: close this one
            series = self._series
            pushed = self._pushed
            series[pushed % len(series)] = self._slot_sum / self._slot_n
            self._pushed = pushed = pushed + 1
            if pushed % self._test_every == 0 and pushed >= 2 * len(self._bins):
                self.strong = self._periodic()
            self._slot, self._slot_sum, self._slot_n = slot, value, 1
        else:
            self._track(slot, value)
        bins = self._bins
        i = slot % len(bins)
        old = bins[i]
        if old != old:  # NaN: first visit of this phase
            bins[i] = value
            return
        resid = abs(value - old)
        self.visits += 1
        a = 1.0 / self.visits
        if a < self._scale_alpha:
            a = self._scale_alpha
        if self.visits > 20:
            cap = 4.0 * self._scale
            if resid > cap:
                resid = cap
        self._scale += a * (resid - self._scale)
        bins[i] = old + self._alpha * (value - old)

    def _track(self, slot: int, value: float) -> None:
        """Close the previous slot: keep a bin-averaged copy of the series (period test)."""
        if self._slot < 0:
            self._slot, self._slot_sum, self._slot_n = slot, value, 1
            return
        n = len(self._bins)
        series = self._series
        gap = min(max(slot - self._slot, 1), n)  # skipped slots (or a clock step back)
        for k in range(gap):
            pushed = self._pushed
            series[pushed % len(series)] = self._slot_sum / self._slot_n if k == 0 else math.nan
            self._pushed = pushed = pushed + 1
            if pushed % self._test_every == 0 and pushed >= 2 * n:
                self.strong = self._periodic()
        self._slot, self._slot_sum, self._slot_n = slot, value, 1

    def _periodic(self) -> bool:
        """Autocorrelation test: is the series more alike one period apart than half one?

        Seasonal views are only trusted when the stream demonstrably repeats: a daily
        profile on a stream without a daily pattern only adds false alarms. Requiring the
        lag-P correlation to be strong *and* above the lag-P/2 one rejects trends and
        random walks, which are correlated at every lag.
        """
        n = len(self._bins)
        m = min(self._pushed, len(self._series))
        start = self._pushed - m
        idx = np.arange(start, self._pushed) % len(self._series)
        x = np.asarray(self._series, dtype=np.float64)[idx]
        r_full = _lag_corr(x, n)
        r_half = _lag_corr(x, max(n // 2, 1))
        return r_full >= 0.5 and r_full >= r_half + 0.2


def _lag_corr(x: np.ndarray, lag: int) -> float:
    """Pearson correlation of x[t] with x[t - lag] over pairs where both are known."""
    if lag >= len(x):
        return 0.0
    a, b = x[lag:], x[:-lag]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return 0.0
    a, b = a[ok], b[ok]
    sa, sb = a.std(), b.std()
    if sa <= 0.0 or sb <= 0.0:
        return 0.0
    return float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb))
