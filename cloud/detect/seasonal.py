"""Seasonal (time-of-day, day-of-week) profile of one metric, learned from timestamps.

Why: a device's normal behaviour often repeats daily or weekly (usage, ambient
temperature, traffic). A level baseline sees every regular swing as a surprise and a
regular swing that *fails* to happen as nothing; a profile indexed by phase in the period
catches both. The profile is learned online: each bin keeps an exponentially weighted
value of the samples that fell into it, so it follows slow changes of the pattern.
"""

from __future__ import annotations

import math

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
        "_scale",
        "_scale_alpha",
        "_t0",
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

    def ready(self, t: float) -> bool:
        """True once a whole period has been seen (and the residual scale has settled)."""
        return t - self._t0 >= self._period_s and self.visits >= 10

    def _index(self, t: float) -> int:
        return int((t % self._period_s) / self._bin_s) % len(self._bins)

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
        i = self._index(t)
        old = self._bins[i]
        if old != old:  # NaN: first visit of this phase
            self._bins[i] = value
            return
        resid = abs(value - old)
        self.visits += 1
        a = max(self._scale_alpha, 1.0 / self.visits)
        cap = 4.0 * self._scale if self.visits > 20 else resid
        self._scale += a * (min(resid, cap) - self._scale)
        self._bins[i] = old + self._alpha * (value - old)
