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

Every view is turned into a surprise (−log10 tail probability) by its own
:class:`~cloud.detect.tail.TailCalibrator`, so their maximum is comparable across views,
metrics and streams. All parameters beyond smoothing rates are learned from the stream.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from cloud.detect.seasonal import SeasonalProfile
from cloud.detect.tail import MAX_SURPRISE, TailCalibrator

__all__ = ["FEATURES", "MetricModel", "MetricReading", "UnivariateConfig"]

FEATURES: tuple[str, ...] = ("level", "daily", "weekly", "burst", "drift")
_DAY_S = 86_400.0
_WEEK_S = 7 * _DAY_S
_MIN_TAIL_SCALE = {"level": 0.25, "daily": 0.25, "weekly": 0.25, "burst": 0.1, "drift": 0.1}
"""Smallest tail scale, in z units: a deviation of a fraction of the stream's own typical
deviation is never extreme, even when the feature was constant so far (flat streams)."""
_LOG10 = [0.0] + [math.log10(k) for k in range(1, len(FEATURES) + 1)]
_SETTLE_SAMPLES = 20
"""Samples before the level scale means anything; features are not calibrated on them."""


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


class MetricModel:
    """All state needed to judge one metric of one stream."""

    def __init__(self, config: UnivariateConfig) -> None:
        self.cfg = config
        self.n = 0
        self.level = 0.0
        self.scale = 0.0
        self.slow_scale = 0.0
        self.resolution = math.inf
        self._half_res = 0.0
        self._last = math.nan
        self._floor = 1e-9
        self._t_first: list[float] = []
        self._seasonal_decided = False
        self.profiles: list[SeasonalProfile | None] = [None, None]
        self.recent: deque[float] = deque(maxlen=max(config.burst_len, config.drift_len))
        self._burst_sum = 0.0
        self._drift_sum = 0.0
        self._pushes = 0
        self.cal = {
            name: TailCalibrator(
                history=config.history,
                refit_every=config.refit_every,
                min_scale=_MIN_TAIL_SCALE[name],
            )
            for name in FEATURES
        }
        self._cals = [self.cal[name] for name in FEATURES]
        self._views_key: tuple[object, ...] = ()
        self._active: list[tuple[int, str, TailCalibrator]] = []

    # -- reading (pure) ---------------------------------------------------------------
    def _zs(self, t: float, v: float) -> tuple[float, float, float, float]:
        """(z_level, z_daily, z_weekly, z_best); seasonal z is NaN where unknown."""
        floor = self._floor
        z_level = (v - self.level) / max(self.scale, floor)
        best_z, best_scale = z_level, self.scale
        zs = [math.nan, math.nan]
        for k, prof in enumerate(self.profiles):
            if prof is None or not prof.ready(t):
                continue
            exp = prof.expected(t)
            if exp != exp:
                continue
            z = (v - exp) / max(prof.scale, floor)
            zs[k] = z
            if prof.strong and prof.scale < best_scale:
                best_z, best_scale = z, prof.scale
        return z_level, zs[0], zs[1], best_z

    def _windows(self, z_best: float) -> tuple[float, float]:
        """(mean |z| over the burst window, |mean z| over the drift window), new z included.

        O(1): running sums over the windows are kept by ``learn``.
        """
        cfg = self.cfg
        recent = self.recent
        n_rec = len(recent)
        burst_n = min(cfg.burst_len - 1, n_rec)
        drift_n = min(cfg.drift_len - 1, n_rec)
        burst = self._burst_sum + abs(z_best)
        drift = self._drift_sum + z_best
        return burst / (burst_n + 1), abs(drift) / (drift_n + 1)

    def _push_recent(self, z: float) -> None:
        """Append z and keep the window sums equal to sums over the last len-1 values."""
        cfg = self.cfg
        recent = self.recent
        recent.append(z)
        self._pushes += 1
        if self._pushes % 1000 == 0:  # recompute exactly: no floating-point creep
            vals = list(recent)
            self._burst_sum = sum(abs(v) for v in vals[len(vals) - (cfg.burst_len - 1) :])
            self._drift_sum = sum(vals[len(vals) - (cfg.drift_len - 1) :])
            return
        n = len(recent)
        self._burst_sum += abs(z)
        if n > cfg.burst_len - 1:
            self._burst_sum -= abs(recent[n - cfg.burst_len])
        self._drift_sum += z
        if n > cfg.drift_len - 1:
            self._drift_sum -= recent[n - cfg.drift_len]

    def features(self, t: float, v: float) -> tuple[tuple[float, ...], float]:
        """Raw feature values (in FEATURES order) and z_best for a new value."""
        z_level, z_day, z_week, z_best = self._zs(t, v)
        burst, drift = self._windows(z_best)
        return (abs(z_level), abs(z_day), abs(z_week), burst, drift), z_best

    def _views(self) -> list[tuple[int, str, TailCalibrator]]:
        """Views allowed to judge: seasonal ones only while the stream is periodic."""
        p_day, p_week = self.profiles
        key = (p_day is not None and p_day.strong, p_week is not None and p_week.strong)
        if key != self._views_key:
            self._views_key = key
            self._active = [
                (k, name, self.cal[name])
                for k, name in enumerate(FEATURES)
                if k not in (1, 2) or key[k - 1]  # views 1 and 2 are daily and weekly
            ]
        return self._active

    def _judge(self, feats: tuple[float, ...], z_best: float) -> MetricReading:
        best, best_name = 0.0, FEATURES[0]
        views = self._views()
        for k, name, cal in views:
            f = feats[k]
            s = cal.surprise(f) if f == f else 0.0
            if s > best:
                best, best_name = s, name
        # Multiple testing: the largest of ``views`` surprises is less rare than any one
        # of them (Bonferroni), so more views must not mean more false alarms.
        best -= _LOG10[len(views)]
        if best < 0.0:
            best = 0.0
        return MetricReading(min(best, MAX_SURPRISE), z_best, best_name, self.level)

    def read(self, t: float, v: float) -> MetricReading:
        """Surprise of value ``v`` at time ``t`` given everything learned so far; changes
        no state."""
        feats, z_best = self.features(t, v)
        return self._judge(feats, z_best)

    def learn(self, t: float, v: float) -> None:
        """Fold one finite value into the model (after ``read`` for causality)."""
        feats, z_best = self.features(t, v)
        self._learn_features(t, v, feats, z_best)

    def step(self, t: float, v: float) -> MetricReading:
        """``read`` then ``learn`` with one feature computation (the fast path)."""
        z_level, z_day, z_week, z_best = self._zs(t, v)
        burst, drift = self._windows(z_best)
        feats = (abs(z_level), abs(z_day), abs(z_week), burst, drift)
        reading = self._judge(feats, z_best)
        self._learn_features(t, v, feats, z_best)
        return reading

    def _learn_features(self, t: float, v: float, feats: tuple[float, ...], z_best: float) -> None:
        if self.n >= _SETTLE_SAMPLES:
            for cal, f in zip(self._cals, feats, strict=True):
                if f == f:  # a view that cannot judge yet (NaN) must not teach it
                    cal.learn(f)
        self._push_recent(z_best)
        self._learn_level(v)
        self._learn_seasonal(t, v)

    def _learn_level(self, v: float) -> None:
        cfg = self.cfg
        self.n += 1
        if self.n == 1:
            self.level = v
            self._last = v
            return
        r = v - self.level
        ar = abs(r)
        n = self.n
        cap = cfg.clip_z * self.scale if n > 20 else ar
        inv_n = 1.0 / n
        a_s = cfg.scale_alpha if cfg.scale_alpha > inv_n else inv_n
        self.scale += a_s * ((ar if ar < cap else cap) - self.scale)
        clipped = r if ar <= cap else math.copysign(cap, r)
        self.level += (cfg.level_alpha if cfg.level_alpha > inv_n else inv_n) * clipped
        # Long-run scale and resolution floor the fast scale: a stream that is flat for a
        # while (zeros between bursts, a quantised sensor) must not make tiny changes
        # look like thousands of deviations.
        a_slow = cfg.slow_scale_alpha if cfg.slow_scale_alpha > inv_n else inv_n
        slow_cap = 3.0 * cfg.clip_z * self.slow_scale if n > 20 else ar
        self.slow_scale += a_slow * ((ar if ar < slow_cap else slow_cap) - self.slow_scale)
        step = abs(v - self._last)
        if 0.0 < step < self.resolution:
            self.resolution = step
            self._half_res = 0.5 * step
        self._last = v
        self._floor = max(cfg.scale_floor * self.slow_scale, self._half_res, 1e-9 * (1.0 + abs(v)))

    def _learn_seasonal(self, t: float, v: float) -> None:
        if not self._seasonal_decided:
            self._t_first.append(t)
            if len(self._t_first) < 6:
                return
            diffs = sorted(b - a for a, b in zip(self._t_first, self._t_first[1:], strict=False))
            dt = diffs[len(diffs) // 2]
            if not dt > 0.0:
                self._t_first.pop(0)
                return
            for k, period in enumerate((_DAY_S, _WEEK_S)):
                if dt <= period / 12.0:
                    self.profiles[k] = SeasonalProfile(period, dt, self.cfg.seasonal_alpha)
            self._seasonal_decided = True
            self._t_first = []
            return
        for prof in self.profiles:
            if prof is not None:
                prof.learn(t, v)
