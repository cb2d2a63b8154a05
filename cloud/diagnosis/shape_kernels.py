"""Compiled per-metric shape detectors: counters, stuck sensors, isolated spikes and the
normal band, over a whole batch of one device's samples in one call.

Why compiled: these run on every metric of every sample, and in Python they cost as much
as everything else the scoring worker does together. The state of all metrics of one
device lives in a handful of numpy arrays (one row per metric, columns named below), so a
batch is one call with no Python object per metric. The meaning of each detector is
documented on :class:`cloud.diagnosis.shapes.ShapeBank`; this module holds only the
arithmetic, and is pure (no I/O, deterministic, no fastmath).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

WARMUP_SAMPLES = 60
CHANCE_RUN = 1e-6
RESTING_VALUES = 32
REPEAT_RATE = 1.0 / 200.0
SPIKE_FACTOR = 8.0
SPIKE_WINDOW = 30
SPIKE_RATE = 1.0 / 100.0
BAND_EXACT_UNTIL = 50
BAND_LOW_Q = 0.05
BAND_HIGH_Q = 0.95
BAND_RATE = 0.05
"""Step of the band's quantile updates, in mean absolute deviations."""

# float state columns (F)
F_C_LAST = 0  # counter: previous value (NaN: none yet)
F_R_P_REPEAT = 1  # repeats: P(next value repeats the last) while not in a suspicious run
F_R_CONTINUED = 2  # repeats: decayed count of repeats that continued a run
F_R_REPEATS = 3  # repeats: decayed count of repeats in finished runs
F_R_LAST = 4
F_R_LOW = 5
F_R_HIGH = 6
F_S_MAD = 7  # spikes: mean absolute sample-to-sample change
F_S_LAST_EXC = 8
F_S_LAST_PEAK = 9
F_S_BASE_RATE = 10
F_B_LOW = 11  # band: streaming 5th percentile
F_B_HIGH = 12  # band: streaming 95th percentile
F_B_MEAN = 13
F_B_DEV = 14
F_COLUMNS = 15

# int state columns (I)
I_C_SAMPLES = 0
I_C_DECREASES = 1
I_C_INCREASES = 2
I_C_VERDICT = 3  # -1 undecided, 0 not a counter, 1 a counter
I_R_SAMPLES = 4
I_R_RUN = 5
I_R_SEEN = 6
I_R_LOW_AT = 7
I_R_HIGH_AT = 8
I_R_RESTING = 9  # how many resting values are held
I_S_SAMPLES = 10
I_S_RECENT = 11  # values held in the 3-sample window
I_S_WINDOW = 12  # verdicts held in the spike window
I_S_HEAD = 13  # next slot of the spike window ring
I_B_N = 14
I_B_SEEN = 15  # values held while the band is still exact (-1 once streaming)
I_COLUMNS = 16

UNDECIDED = -1


def new_state(metrics: int) -> tuple[np.ndarray, ...]:
    """Fresh state arrays for ``metrics`` metrics (see :func:`grow`)."""
    floats = np.zeros((metrics, F_COLUMNS), dtype=np.float64)
    floats[:, F_C_LAST] = np.nan
    floats[:, F_R_LAST] = np.nan
    floats[:, F_R_LOW] = np.inf
    floats[:, F_R_HIGH] = -np.inf
    floats[:, F_S_LAST_PEAK] = np.nan
    floats[:, F_B_LOW] = np.nan
    floats[:, F_B_HIGH] = np.nan
    ints = np.zeros((metrics, I_COLUMNS), dtype=np.int64)
    ints[:, I_C_VERDICT] = UNDECIDED
    resting = np.zeros((metrics, 2, RESTING_VALUES + 1), dtype=np.float64)
    recent = np.zeros((metrics, 3), dtype=np.float64)
    window = np.zeros((metrics, 3, SPIKE_WINDOW), dtype=np.float64)
    seen = np.zeros((metrics, BAND_EXACT_UNTIL), dtype=np.float64)
    return floats, ints, resting, recent, window, seen


@njit(cache=True)
def _counter_view(f: np.ndarray, i: np.ndarray, j: int, value: float) -> float:
    """The value for learned detectors, NaN for a counter or while undecided."""
    last = f[j, F_C_LAST]
    f[j, F_C_LAST] = value
    if math.isnan(last):
        return math.nan
    verdict = i[j, I_C_VERDICT]
    if verdict != 0:
        i[j, I_C_SAMPLES] += 1
        if value < last:
            i[j, I_C_DECREASES] += 1
        if value > last:
            i[j, I_C_INCREASES] += 1
        allowed = i[j, I_C_SAMPLES] // 100  # resets
        if verdict == UNDECIDED:
            if i[j, I_C_SAMPLES] >= WARMUP_SAMPLES and i[j, I_C_INCREASES] >= 5:
                i[j, I_C_VERDICT] = 1 if i[j, I_C_DECREASES] <= allowed else 0
        elif i[j, I_C_DECREASES] > allowed:
            # A slow wander (free heap rising for an hour) passes for a counter in its
            # first samples; one that then falls more often than resets allow never
            # was one. Revoked once, never granted again.
            i[j, I_C_VERDICT] = 0
    return value if i[j, I_C_VERDICT] == 0 else math.nan


@njit(cache=True)
def _remember_resting(i: np.ndarray, resting: np.ndarray, j: int, value: float) -> None:
    """Count a value a run rested on; beyond RESTING_VALUES the rarest (oldest of equals)
    is forgotten."""
    n = i[j, I_R_RESTING]
    for k in range(n):
        if resting[j, 0, k] == value:
            resting[j, 1, k] += 1.0
            return
    resting[j, 0, n] = value
    resting[j, 1, n] = 1.0
    n += 1
    if n > RESTING_VALUES:
        rarest = 0
        for k in range(1, n):
            if resting[j, 1, k] < resting[j, 1, rarest]:
                rarest = k
        for k in range(rarest, n - 1):
            resting[j, 0, k] = resting[j, 0, k + 1]
            resting[j, 1, k] = resting[j, 1, k + 1]
        n -= 1
    i[j, I_R_RESTING] = n


@njit(cache=True)
def min_run(p_repeat: float, continued: float, repeats: float) -> int:
    """Run length that chance alone produces with probability below CHANCE_RUN. No floor
    beyond the bound itself: a stream that never repeats (a noisy float) is suspect
    after two repeats (p <= 1e-3 each)."""
    p_continue = continued / repeats if repeats >= 20.0 else 0.0
    p = min(max(p_repeat, p_continue, 1e-3), 0.999)
    return max(1, math.ceil(math.log(CHANCE_RUN) / math.log(p)))


@njit(cache=True)
def _learn_repeat(f: np.ndarray, i: np.ndarray, j: int, repeated: bool) -> None:
    """One step of P(a run starts at a sample). A run in progress teaches nothing until it
    ends: it is what is being judged, and its own first repeat would otherwise raise the
    bar it is judged against."""
    i[j, I_R_SAMPLES] += 1
    rate = max(REPEAT_RATE, 1.0 / i[j, I_R_SAMPLES])
    f[j, F_R_P_REPEAT] += rate * ((1.0 if repeated else 0.0) - f[j, F_R_P_REPEAT])


@njit(cache=True)
def _repeat(f: np.ndarray, i: np.ndarray, resting: np.ndarray, j: int, value: float) -> float:
    """How likely the metric is stuck on one exact value (0 when not suspicious)."""
    last = f[j, F_R_LAST]
    repeated = (not math.isnan(last)) and value == last
    run = i[j, I_R_RUN]
    if not repeated and run > 0:
        decay = 1.0 - REPEAT_RATE
        f[j, F_R_CONTINUED] = f[j, F_R_CONTINUED] * decay + (run - 1)
        f[j, F_R_REPEATS] = f[j, F_R_REPEATS] * decay + run
        _remember_resting(i, resting, j, last)
        _learn_repeat(f, i, j, True)  # the run's first repeat, counted once it is over
    run = run + 1 if repeated else 0
    i[j, I_R_RUN] = run
    f[j, F_R_LAST] = value
    i[j, I_R_SEEN] += 1
    seen = i[j, I_R_SEEN]
    run_start = seen - run
    clamped = (value == f[j, F_R_HIGH] and i[j, I_R_HIGH_AT] < run_start) or (
        value == f[j, F_R_LOW] and i[j, I_R_LOW_AT] < run_start
    )
    is_resting = clamped or value == 0.0
    if not is_resting:
        for k in range(i[j, I_R_RESTING]):
            if resting[j, 0, k] == value:
                is_resting = True
                break
    needed = min_run(f[j, F_R_P_REPEAT], f[j, F_R_CONTINUED], f[j, F_R_REPEATS])
    if i[j, I_R_SAMPLES] >= WARMUP_SAMPLES and run >= 1 and run >= needed and not is_resting:
        return min(1.0, run / (2.0 * needed))
    if value > f[j, F_R_HIGH]:
        f[j, F_R_HIGH] = value
        i[j, I_R_HIGH_AT] = seen
    if value < f[j, F_R_LOW]:
        f[j, F_R_LOW] = value
        i[j, I_R_LOW_AT] = seen
    if not repeated:
        _learn_repeat(f, i, j, False)
    return 0.0


@njit(cache=True)
def _spike_seen(
    f: np.ndarray, i: np.ndarray, recent: np.ndarray, j: int, value: float, frozen: bool
) -> bool:
    """Whether the previous value was an isolated spike (far from both neighbours, which
    agree with each other); learns the usual sample-to-sample change otherwise, unless
    ``frozen`` (two spikes in a row are no isolated spike, and would teach it their jump)."""
    n = i[j, I_S_RECENT]
    if n == 3:
        recent[j, 0] = recent[j, 1]
        recent[j, 1] = recent[j, 2]
        recent[j, 2] = value
    else:
        recent[j, n] = value
        i[j, I_S_RECENT] = n + 1
        if n + 1 < 3:
            return False
    before, peak, after = recent[j, 0], recent[j, 1], recent[j, 2]
    rise = peak - before
    fall = peak - after
    excursion = min(abs(rise), abs(fall))
    spike = (
        i[j, I_S_SAMPLES] >= WARMUP_SAMPLES
        and rise * fall > 0.0
        and excursion > SPIKE_FACTOR * max(f[j, F_S_MAD], 1e-9)
        and abs(after - before) < excursion / 3.0
    )
    if spike:
        f[j, F_S_LAST_EXC] = excursion
        f[j, F_S_LAST_PEAK] = peak
    elif not frozen:
        i[j, I_S_SAMPLES] += 1
        rate = max(SPIKE_RATE, 1.0 / i[j, I_S_SAMPLES])
        f[j, F_S_MAD] += rate * (abs(after - peak) - f[j, F_S_MAD])
    return bool(spike)


@njit(cache=True)
def _spike_record(
    f: np.ndarray,
    i: np.ndarray,
    window: np.ndarray,
    j: int,
    spike: bool,
    frozen: bool,
    out: np.ndarray,
) -> None:
    """Keep an accepted verdict in the window; ``out`` gets (score, count, peak, span):
    the recent spike count against what the stream's own base rate makes likely (a
    Poisson bound), the value at the largest spike in the window, and the samples since
    its oldest spike, this one included (the stretch the score was gathered over). A
    ``frozen`` metric (a fault on it is suspected) does not teach the base rate: a sensor that
    keeps spiking would otherwise make its own spikes look usual within a day."""
    head = i[j, I_S_HEAD]
    window[j, 0, head] = 1.0 if spike else 0.0
    window[j, 1, head] = f[j, F_S_LAST_EXC] if spike else 0.0
    window[j, 2, head] = f[j, F_S_LAST_PEAK] if spike else 0.0
    i[j, I_S_HEAD] = (head + 1) % SPIKE_WINDOW
    held = min(i[j, I_S_WINDOW] + 1, SPIKE_WINDOW)
    i[j, I_S_WINDOW] = held
    count = 0
    best_exc = -1.0
    best_peak = math.nan
    span = 1
    oldest = (head + 1) % SPIKE_WINDOW if held == SPIKE_WINDOW else 0
    for age in range(held):
        if window[j, 0, (oldest + age) % SPIKE_WINDOW] > 0.0:
            span = held - age
            break
    for k in range(held):
        if window[j, 0, k] > 0.0:
            count += 1
            exc, pk = window[j, 1, k], window[j, 2, k]
            if exc > best_exc or (exc == best_exc and pk > best_peak):
                best_exc, best_peak = exc, pk
    if i[j, I_S_SAMPLES] >= WARMUP_SAMPLES and not frozen:
        f[j, F_S_BASE_RATE] += SPIKE_RATE / 10.0 * ((1.0 if spike else 0.0) - f[j, F_S_BASE_RATE])
    expected = f[j, F_S_BASE_RATE] * held
    bound = max(3.0, expected + 4.0 * math.sqrt(expected) + 1.0)
    out[0] = min(1.0, count / bound)
    out[1] = count
    out[2] = best_peak
    out[3] = span


@njit(cache=True)
def shapes(
    values: np.ndarray,
    f: np.ndarray,
    i: np.ndarray,
    resting: np.ndarray,
    recent: np.ndarray,
    window: np.ndarray,
    frozen: np.ndarray,
    out: np.ndarray,
) -> None:
    """One device's batch (rows = samples, columns = metrics, NaN = absent) through the
    counter, repeat and spike detectors, in order.

    ``out[s, j]`` gets: 0 the value for learned detectors (NaN for counters and while
    undecided), 1 the counter verdict, 2 the stuck score (only for a run that started
    alone on its sample: several metrics pinned at once are a controller holding its
    limits), 3 the run length, 4 the spike score (only for jumps seen on one metric
    alone: several at once are physics), 5 spikes in the window, 6 the largest spike's
    value, 7 the samples the spikes in the window span, 8 whether this sample itself
    added a spike (the window's older spikes only carry evidence forward). ``frozen[j]``:
    a fault on metric ``j`` is suspected: it teaches neither the usual sample-to-sample
    change nor the base rate of spikes.
    """
    samples, metrics = values.shape
    stuck = np.zeros(metrics)
    jumps = np.zeros(metrics, dtype=np.bool_)
    record = np.zeros(4)
    for s in range(samples):
        for j in range(metrics):
            out[s, j, 0] = math.nan
            if not math.isnan(values[s, j]):
                out[s, j, 0] = _counter_view(f, i, j, values[s, j])
            out[s, j, 1] = i[j, I_C_VERDICT]
        jumped = 0
        for j in range(metrics):
            jumps[j] = False
            if not math.isnan(values[s, j]):
                jumps[j] = _spike_seen(f, i, recent, j, values[s, j], frozen[j])
                jumped += jumps[j]
        for j in range(metrics):
            stuck[j] = 0.0
            if not math.isnan(values[s, j]):
                stuck[j] = _repeat(f, i, resting, j, values[s, j])
        for j in range(metrics):
            v = values[s, j]
            out[s, j, 2] = 0.0
            out[s, j, 3] = i[j, I_R_RUN]
            out[s, j, 4] = 0.0
            out[s, j, 5] = 0.0
            out[s, j, 6] = math.nan
            out[s, j, 7] = 1.0
            out[s, j, 8] = 0.0
            if math.isnan(v):
                continue
            spiked = jumps[j] and jumped == 1
            out[s, j, 8] = 1.0 if spiked else 0.0
            _spike_record(f, i, window, j, spiked, frozen[j], record)
            out[s, j, 4], out[s, j, 5], out[s, j, 6] = record[0], record[1], record[2]
            out[s, j, 7] = record[3]
            if stuck[j] > 0.0 and i[j, I_C_VERDICT] != 1:
                start = i[j, I_R_SEEN] - i[j, I_R_RUN]
                alone = True
                for o in range(metrics):
                    if (
                        o != j
                        and not math.isnan(values[s, o])
                        and i[o, I_R_RUN] > 0
                        and i[o, I_R_SEEN] - i[o, I_R_RUN] == start
                    ):
                        alone = False
                        break
                if alone:
                    out[s, j, 2] = stuck[j]


@njit(cache=True)
def _percentile(ordered: np.ndarray, q: float) -> float:
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return float(ordered[below] + (ordered[above] - ordered[below]) * (position - below))


@njit(cache=True)
def bands(
    values: np.ndarray,
    learn: np.ndarray,
    f: np.ndarray,
    i: np.ndarray,
    seen: np.ndarray,
    out: np.ndarray,
) -> None:
    """Learn each metric's normal band from the samples marked normal in ``learn``;
    ``out[s, j]`` gets the band (low, high) after sample ``s`` (NaN while unknown).

    The first BAND_EXACT_UNTIL values give an exact band; after that each bound follows
    a stochastic-approximation quantile update whose step is the metric's own mean
    absolute deviation times BAND_RATE, so nothing depends on the metric's units.
    """
    samples, metrics = values.shape
    for s in range(samples):
        for j in range(metrics):
            v = values[s, j]
            if learn[s, j] and math.isfinite(v):
                i[j, I_B_N] += 1
                alpha = max(1.0 / i[j, I_B_N], BAND_RATE)
                f[j, F_B_DEV] += alpha * (abs(v - f[j, F_B_MEAN]) - f[j, F_B_DEV])
                f[j, F_B_MEAN] += alpha * (v - f[j, F_B_MEAN])
                held = i[j, I_B_SEEN]
                if held >= 0:
                    seen[j, held] = v
                    held += 1
                    i[j, I_B_SEEN] = held
                    if held >= BAND_EXACT_UNTIL:
                        ordered = np.sort(seen[j, :held])
                        f[j, F_B_LOW] = _percentile(ordered, BAND_LOW_Q)
                        f[j, F_B_HIGH] = _percentile(ordered, BAND_HIGH_Q)
                        i[j, I_B_SEEN] = -1
                else:
                    step = BAND_RATE * f[j, F_B_DEV]
                    low, high = f[j, F_B_LOW], f[j, F_B_HIGH]
                    low += step * (BAND_LOW_Q - (1.0 if v <= low else 0.0))
                    high += step * (BAND_HIGH_Q - (1.0 if v <= high else 0.0))
                    f[j, F_B_LOW] = low
                    f[j, F_B_HIGH] = max(high, low)
            held = i[j, I_B_SEEN]
            if held < 0:
                out[s, j, 0], out[s, j, 1] = f[j, F_B_LOW], f[j, F_B_HIGH]
            elif held >= 10:
                ordered = np.sort(seen[j, :held])
                out[s, j, 0] = _percentile(ordered, BAND_LOW_Q)
                out[s, j, 1] = _percentile(ordered, BAND_HIGH_Q)
            else:
                out[s, j, 0], out[s, j, 1] = math.nan, math.nan
