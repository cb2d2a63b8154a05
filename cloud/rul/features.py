"""Telemetry to wear features, pure: one row per period of a device's history.

A period (an hour, say) becomes the robust summary (median) of each indicator of the
model's :class:`~cloud.rul.wear_spec.WearSpec` over the samples taken under load, plus:

- ``<name>``: that median, carried forward through periods without load (a charger idle
  all afternoon still has the contacts it had last night);
- ``<name>_smooth``: an exponentially weighted mean over loaded periods (half-life
  ``smoothing_periods``), the trend without the day-to-day scatter;
- ``<name>_change``: the smoothed value relative to the device's own baseline (the
  median of its first ``baseline_periods`` loaded periods), minus 1: units differ when
  new, and wear multiplies (a contact resistance, an efficiency), it does not add;
- ``<name>_trend``: how much that relative change grew over the last ``trend_periods``
  periods: wear accelerates, so its pace says how near the end is;
- ``load_level``: the median load metric under load (carried), a condition column;
- ``stale_periods``: periods since the last one with load, so a model can tell a fresh
  reading from a carried one.

Rows start at the first period with load (before it there is nothing to carry) and are
NaN-free. Every value in a row depends only on samples up to the end of its period, so
the rows a device has today are the rows it will still have tomorrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cloud.rul.wear_spec import Indicator, WearSpec

__all__ = [
    "DeviceHistory",
    "History",
    "condition_columns",
    "feature_names",
    "period_features",
    "training_runs",
]

KELVIN = 273.15
MIN_LIFT_K = 5.0
"""Lifts below this make the Carnot COP meaningless (and huge); such samples are skipped."""


class History(Protocol):
    """A device's samples as columns: ``ts`` ascending, one array per metric parallel to it
    (NaN where a sample lacks the metric), and when the part failed (None: not yet)."""

    @property
    def ts(self) -> np.ndarray: ...

    @property
    def metrics(self) -> Mapping[str, np.ndarray]: ...

    @property
    def failure_s(self) -> float | None: ...


@dataclass(frozen=True)
class DeviceHistory:
    """The plain :class:`History`: what storage reads and what tests build."""

    device_id: str
    ts: np.ndarray
    metrics: Mapping[str, np.ndarray]
    failure_s: float | None = None

    @classmethod
    def from_samples(
        cls,
        device_id: str,
        samples: Iterable[tuple[float, Mapping[str, float]]],
        failure_s: float | None = None,
        metrics: Iterable[str] | None = None,
    ) -> DeviceHistory:
        """Columns from (ts, {metric: value}) samples, sorted by time; ``metrics`` limits
        the columns (default: every metric any sample has)."""
        rows = sorted(samples, key=lambda sample: sample[0])
        names = sorted({n for _, m in rows for n in m} if metrics is None else set(metrics))
        columns = {
            name: np.array([_number(m.get(name)) for _, m in rows], dtype=float) for name in names
        }
        ts = np.array([t for t, _ in rows], dtype=float)
        return cls(device_id, ts, columns, failure_s)


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def feature_names(spec: WearSpec) -> list[str]:
    """Column names of :func:`period_features` rows, in order."""
    names = []
    for indicator in spec.indicators:
        name = indicator.name
        names += [name, f"{name}_smooth", f"{name}_change", f"{name}_trend"]
    return [*names, "load_level", "stale_periods"]


def condition_columns(spec: WearSpec) -> list[int]:
    """Columns saying how the device was used rather than how worn it is (for
    ``RulModel.fit(condition_columns=...)``)."""
    names = feature_names(spec)
    return [names.index("load_level"), names.index("stale_periods")]


def period_features(samples: History, spec: WearSpec, period_s: float) -> np.ndarray:
    """One row per period (epoch-aligned, ``period_s`` long) from the first period with
    load to the period of the last sample; shape (n_periods, len(feature_names(spec))).
    A history without any sample under load gives zero rows."""
    if not (math.isfinite(period_s) and period_s > 0):
        raise ValueError(f"period_s must be a positive number, not {period_s!r}")
    width = len(feature_names(spec))
    ts = np.asarray(samples.ts, dtype=float)
    if ts.size == 0:
        return np.empty((0, width))
    loaded, since_start = _under_load(ts, samples.metrics, spec)
    values = np.column_stack(
        [_indicator(ind, samples.metrics, ts, loaded, since_start) for ind in spec.indicators]
    )
    load = _column(samples.metrics, spec.load.metric, ts.size)
    period = np.floor(ts / period_s).astype(np.int64)
    medians, load_medians = _period_medians(period, loaded, values, load)
    first = np.flatnonzero(~np.isnan(medians[:, 0]))
    if first.size == 0:
        return np.empty((0, width))
    medians, load_medians = medians[first[0] :], load_medians[first[0] :]
    return _rows(medians, load_medians, spec)


def training_runs(
    histories: Iterable[History], spec: WearSpec, period_s: float, min_rows: int = 2
) -> list[np.ndarray]:
    """For every history with a failure: its period rows from samples before the failure,
    ready for ``RulModel.fit`` (the unit fails right after its last row). Histories
    without a failure, or with fewer than ``min_rows`` rows, are left out."""
    runs = []
    for history in histories:
        failure_s = history.failure_s
        if failure_s is None:
            continue
        keep = np.asarray(history.ts) < failure_s
        cut = DeviceHistory(
            "",
            np.asarray(history.ts)[keep],
            {name: np.asarray(column)[keep] for name, column in history.metrics.items()},
            failure_s,
        )
        rows = period_features(cut, spec, period_s)
        if len(rows) >= min_rows:
            runs.append(rows)
    return runs


# -- internals -------------------------------------------------------------------------------


def _column(metrics: Mapping[str, np.ndarray], name: str, n: int) -> np.ndarray:
    column = metrics.get(name)
    return np.full(n, np.nan) if column is None else np.asarray(column, dtype=float)


def _under_load(
    ts: np.ndarray, metrics: Mapping[str, np.ndarray], spec: WearSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Samples under load within the condition's settling window (NaN readings count as
    not loaded), and each sample's time since its load run began (NaN when idle). A run
    began somewhere between its first loaded sample and the sample before: the midpoint
    is the estimate."""
    condition = spec.load
    load = _column(metrics, condition.metric, ts.size)
    loaded = np.nan_to_num(load, nan=-np.inf) > condition.above
    if condition.share_of is not None:
        limit = _column(metrics, condition.share_of, ts.size)
        loaded &= np.nan_to_num(load - condition.share * limit, nan=-np.inf) > 0
    starts = np.flatnonzero(loaded & ~np.concatenate(([False], loaded[:-1])))
    run_start = np.full(ts.size, np.nan)
    run_start[starts] = ts[starts] - 0.5 * np.diff(ts, prepend=ts[0])[starts]
    since = np.where(loaded, ts - _forward_fill(run_start), np.nan)
    with np.errstate(invalid="ignore"):
        loaded &= since >= condition.settle_s
        if condition.window_s is not None:
            loaded &= since <= condition.window_s
    return loaded, since


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Each NaN replaced by the last non-NaN before it (NaN when there is none)."""
    index = np.where(np.isnan(values), -1, np.arange(values.size))
    np.maximum.accumulate(index, out=index)
    return np.where(index >= 0, values[np.maximum(index, 0)], np.nan)


def _indicator(
    indicator: Indicator,
    metrics: Mapping[str, np.ndarray],
    ts: np.ndarray,
    loaded: np.ndarray,
    since_start: np.ndarray,
) -> np.ndarray:
    """The indicator per sample; NaN where a sample is not under load or lacks inputs."""
    n = loaded.size
    value = _column(metrics, indicator.metric, n)
    if indicator.kind == "ratio":
        by = _column(metrics, indicator.by or "", n)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(np.abs(by) > 1e-9, value / by, np.nan)
    elif indicator.kind == "rise_per_square":
        by = _column(metrics, indicator.by or "", n)
        idle = ~loaded & (np.nan_to_num(by, nan=1.0) == 0) & ~np.isnan(value)
        reference = _idle_reference(ts, value, idle, indicator.idle_trend_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (value - reference) / by**2
            if indicator.tau_s is not None:
                value = value / -np.expm1(-since_start / indicator.tau_s)
    elif indicator.kind == "carnot_efficiency":
        hot = _column(metrics, indicator.hot or "", n) + indicator.hot_offset_k
        cold = _column(metrics, indicator.cold or "", n) + indicator.cold_offset_k
        lift = hot - cold
        with np.errstate(invalid="ignore"):
            value = np.where(lift >= MIN_LIFT_K, value * lift / (hot + KELVIN), np.nan)
    return np.where(loaded & np.isfinite(value), value, np.nan)


def _idle_reference(
    ts: np.ndarray, value: np.ndarray, idle: np.ndarray, trend_s: float | None
) -> np.ndarray:
    """Per sample, what the metric would read idle now: the latest idle reading, carried
    along the trend idle readings followed over the ``trend_s`` before it (the evening
    air cools while a car charges); no trend without ``trend_s`` or an idle stretch that
    long."""
    positions = np.flatnonzero(idle)
    if positions.size == 0:
        return np.full(ts.size, np.nan)
    idle_ts, idle_value = ts[positions], value[positions]
    slope = np.zeros(positions.size)
    if trend_s is not None:
        stretch = np.cumsum(~idle)[positions]  # idle readings with no load between them
        earlier = np.searchsorted(idle_ts, idle_ts - trend_s, side="right") - 1
        ok = (earlier >= 0) & (stretch[np.maximum(earlier, 0)] == stretch)
        span = idle_ts - idle_ts[np.maximum(earlier, 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(ok & (span > 0), (idle_value - idle_value[earlier]) / span, 0.0)
    last = np.full(ts.size, -1)
    last[positions] = np.arange(positions.size)
    np.maximum.accumulate(last, out=last)
    known = last >= 0
    at = np.maximum(last, 0)
    reference = idle_value[at] + slope[at] * (ts - idle_ts[at])
    return np.where(known, reference, np.nan)


def _period_medians(
    period: np.ndarray, loaded: np.ndarray, values: np.ndarray, load: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per period from the first to the last sample's: the median of each indicator and of
    the load over the loaded samples (NaN for a period without any)."""
    first, last = int(period[0]), int(period[-1])
    n_periods = last - first + 1
    usable = loaded & ~np.isnan(values).all(axis=1)
    rows = np.flatnonzero(usable)
    groups = period[rows] - first
    medians = _group_medians(groups, values[rows], n_periods)
    load_medians = _group_medians(groups, load[rows, None], n_periods)[:, 0]
    return medians, load_medians


def _group_medians(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group ``0..n_groups - 1`` (``groups`` ascending) and column: the median of
    the column's non-NaN values, NaN where there are none. What ``np.nanmedian`` gives
    group by group, in one sort per column: the forecaster asks this of every device's
    recent history each round, and a call per period cost about a millisecond each."""
    out = np.full((n_groups, values.shape[1]), np.nan)
    if groups.size == 0:
        return out
    starts = np.searchsorted(groups, np.arange(n_groups))
    for j in range(values.shape[1]):
        column = values[:, j]
        valid = ~np.isnan(column)
        counts = np.bincount(groups[valid], minlength=n_groups)
        order = np.lexsort((np.where(valid, column, np.inf), groups))
        ordered = column[order]  # within a group: its valid values ascending, NaNs last
        has = counts > 0
        low = starts[has] + (counts[has] - 1) // 2
        high = starts[has] + counts[has] // 2
        out[has, j] = (ordered[low] + ordered[high]) / 2.0
    return out


def _rows(medians: np.ndarray, load_medians: np.ndarray, spec: WearSpec) -> np.ndarray:
    """Carry, smooth and compare with the baseline; the first row has load by design.
    An indicator not seen yet (no valid input so far) reads 0 rather than NaN."""
    fresh = ~np.isnan(medians[:, 0])
    carried = np.nan_to_num(np.column_stack([_forward_fill(col) for col in medians.T]))
    smooth = _ewm_over_fresh(carried, fresh, spec.smoothing_periods)
    baseline = _baseline(carried, fresh, spec.baseline_periods)
    positions = np.arange(fresh.size)
    since_fresh = positions - np.maximum.accumulate(np.where(fresh, positions, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.nan_to_num(smooth / baseline - 1.0, nan=0.0, posinf=0.0, neginf=0.0)
    lag = min(spec.trend_periods, change.shape[0] - 1)
    trend = change - np.vstack(
        [np.repeat(change[:1], lag, axis=0), change[: change.shape[0] - lag]]
    )
    columns: list[np.ndarray] = []
    for j in range(medians.shape[1]):
        columns += [carried[:, j], smooth[:, j], change[:, j], trend[:, j]]
    columns += [_forward_fill(load_medians), since_fresh.astype(float)]
    return np.column_stack(columns)


def _baseline(values: np.ndarray, fresh: np.ndarray, periods: int) -> np.ndarray:
    """Per row, the median of the first ``periods`` fresh rows seen so far: causal, and
    fixed once that many have been seen."""
    out = np.empty_like(values)
    seen = np.flatnonzero(fresh)[:periods]
    for k, row in enumerate(seen):
        upto = seen[k + 1] if k + 1 < seen.size else values.shape[0]
        out[row:upto] = np.median(values[seen[: k + 1]], axis=0)
    return out


def _ewm_over_fresh(values: np.ndarray, fresh: np.ndarray, half_life: float) -> np.ndarray:
    """Exponentially weighted mean updated on fresh rows only (carried rows repeat it)."""
    alpha = 1.0 - 0.5 ** (1.0 / half_life)
    out = np.empty_like(values)
    state = values[0].copy()
    out[0] = state
    for i in range(1, values.shape[0]):
        if fresh[i]:
            state = state + alpha * (values[i] - state)
        out[i] = state
    return out
