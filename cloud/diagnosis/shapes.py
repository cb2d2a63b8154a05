"""One device's per-metric shape detectors, held as arrays and run a batch at a time.

What each detector knows, all learned from the device's own stream:

- **counter**: whether a metric only goes up but for resets (energy meters, run hours).
  A counter's level only grows and its increments repeat what a rate metric already
  says, so learned detectors leave counters out. The verdict is reached once, after a
  warm-up and a few increases, and then kept, so the detectors' inputs keep their meaning.
- **stuck sensor**: a run of exact repeats longer than chance would give (below one in
  10^6, from how often this stream repeats itself and how long its finished runs last).
  Values the stream rests on (0 A while idle, a pinned 100 %) and a range end reached
  before are not frozen; learning pauses during a suspicious run, so being stuck is
  never learned as normal.
- **spike**: a value far from both neighbours, which agree with each other (a step is not
  a spike), scored by the recent count against the stream's own base rate.
- **normal band**: a streaming 5th-95th percentile of the samples the diagnosis found
  normal: what a service engineer reads as "normal is 2.1-3.0 A". Percentiles, not
  mean ± k·σ, because telemetry is skewed and multi-modal.

A counter verdict is revoked once if the metric then falls more often than resets
explain (free heap that crept up through the whole warm-up). A stuck run is judged
against the chance bound alone and teaches the repeat statistics only once it has ended.

The arithmetic is compiled (:mod:`cloud.diagnosis.shape_kernels`): it runs on every
metric of every sample. Causal: each sample sees only the past and itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from cloud.diagnosis import shape_kernels as k

__all__ = ["BatchShapes", "ShapeBank"]


@dataclass(frozen=True)
class BatchShapes:
    """What the detectors said about a batch, indexed ``[sample, metric]`` in the bank's
    metric order (see :meth:`ShapeBank.columns`)."""

    view: np.ndarray
    """The value learned detectors see: NaN for counters, undecided metrics or absent."""
    counter: np.ndarray
    """1 a counter, 0 not one, -1 undecided."""
    stuck: np.ndarray
    run: np.ndarray
    spike: np.ndarray
    spike_count: np.ndarray
    spike_peak: np.ndarray
    spike_span: np.ndarray
    """Samples since the oldest spike in the window (the stretch the score covers)."""
    spike_new: np.ndarray
    """1 where the sample itself added a spike to the window."""


class ShapeBank:
    """The shape detectors of every metric of one device (metrics join as they appear)."""

    def __init__(self) -> None:
        self.metrics: list[str] = []
        self._index: dict[str, int] = {}
        (
            self._floats,
            self._ints,
            self._resting,
            self._recent,
            self._window,
            self._seen,
        ) = k.new_state(0)

    def columns(self, names: Sequence[str]) -> list[int]:
        """Column of each metric, adding metrics first seen now."""
        new = [name for name in dict.fromkeys(names) if name not in self._index]
        if new:
            for name in new:
                self._index[name] = len(self.metrics)
                self.metrics.append(name)
            fresh = k.new_state(len(new))
            self._floats, self._ints, self._resting, self._recent, self._window, self._seen = (
                np.concatenate([old, add])
                for old, add in zip(
                    (
                        self._floats,
                        self._ints,
                        self._resting,
                        self._recent,
                        self._window,
                        self._seen,
                    ),
                    fresh,
                    strict=True,
                )
            )
        return [self._index[name] for name in names]

    def observe(self, values: np.ndarray, held: Collection[str] = ()) -> BatchShapes:
        """Run a batch (rows = samples, columns = this bank's metrics, NaN = absent);
        the ``held`` metrics teach the spike detector nothing."""
        out = np.empty((values.shape[0], values.shape[1], 9), dtype=np.float64)
        mask = np.zeros(len(self.metrics), dtype=np.bool_)
        if held:
            mask[[j for j, m in enumerate(self.metrics) if m in held]] = True
        k.shapes(
            values, self._floats, self._ints, self._resting, self._recent, self._window, mask, out
        )
        return BatchShapes(
            view=out[:, :, 0],
            counter=out[:, :, 1],
            stuck=out[:, :, 2],
            run=out[:, :, 3],
            spike=out[:, :, 4],
            spike_count=out[:, :, 5],
            spike_peak=out[:, :, 6],
            spike_span=out[:, :, 7],
            spike_new=out[:, :, 8],
        )

    def learn_bands(self, values: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """Learn the bands from the samples marked normal; returns ``[sample, metric,
        (low, high)]``, the band after each sample (NaN while unknown)."""
        out = np.empty((values.shape[0], values.shape[1], 2), dtype=np.float64)
        k.bands(values, normal, self._floats, self._ints, self._seen, out)
        return out

    def forget_bands(self) -> None:
        """Start every normal band afresh (a firmware update is a new normal)."""
        fresh_floats, fresh_ints, *_ = k.new_state(len(self.metrics))
        band_floats = [k.F_B_LOW, k.F_B_HIGH, k.F_B_MEAN, k.F_B_DEV]
        self._floats[:, band_floats] = fresh_floats[:, band_floats]
        self._ints[:, [k.I_B_N, k.I_B_SEEN]] = fresh_ints[:, [k.I_B_N, k.I_B_SEEN]]

    def counters(self) -> set[str]:
        """Metrics known to be counters."""
        verdicts = self._ints[:, k.I_C_VERDICT].tolist()
        return {name for name, verdict in zip(self.metrics, verdicts, strict=True) if verdict == 1}

    def band(self, metric: str) -> tuple[float, float] | None:
        """A metric's current normal band, None while unknown."""
        j = self._index.get(metric)
        if j is None:
            return None
        values = np.full((1, len(self.metrics)), np.nan)
        out = self.learn_bands(values, np.zeros_like(values, dtype=np.bool_))
        low, high = float(out[0, j, 0]), float(out[0, j, 1])
        return None if low != low else (low, high)
