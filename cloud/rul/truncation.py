"""Where a test history is cut, simulated on run-to-failure histories.

C-MAPSS describes its data so: "The engine is operating normally at the start of each
time series, and develops a fault at some point during the series. In the training set,
the fault grows in magnitude until system failure. In the test set, the time series ends
some time prior to system failure." A test history is therefore cut somewhere between
the fault's onset and the failure. The cross-validation asks held-out units exactly that
question: each is cut uniformly at random between its own fault onset and its last row.

The onset of a training unit is estimated from the unit alone, without a threshold to
tune: a fleet health index (the standardised signals projected by least squares onto
the share of life used, so it rises as units wear) is fitted per unit with a hinge, flat
and then rising linearly, and the hinge's knee is the onset. Degradation in C-MAPSS
bends smoothly, so the knee lands where the rise overtakes the noise.

Rather than drawing a few cuts per unit (noisy), every admissible cut is scored with
weight ``1 / admissible cuts``: the exact expectation of one uniform cut per unit, and
every unit weighs the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["calibration_weights", "fault_onsets", "hinge_knee", "truncation_weights"]


def fault_onsets(signals: Sequence[np.ndarray]) -> np.ndarray:
    """Per unit (standardised ``(rows, signals)`` run to failure), the fault onset row."""
    rows = np.vstack(signals)
    used = np.concatenate([np.arange(len(s)) / max(len(s) - 1, 1) for s in signals])
    design = np.hstack([np.ones((rows.shape[0], 1)), rows])
    weights, *_ = np.linalg.lstsq(design, used, rcond=None)
    return np.array([hinge_knee(weights[0] + s @ weights[1:]) for s in signals], dtype=np.intp)


def hinge_knee(index: np.ndarray) -> int:
    """The row ``k`` (0..rows-2) whose hinge ``a + b·max(t - k, 0)``, ``b > 0``, fits best.

    Least squares over every knee at once: for each knee the fit's gain over a constant
    is ``cov(index, hinge)² / var(hinge)``. Without any rising fit (or under two rows)
    the onset is the first row.
    """
    h = np.asarray(index, dtype=np.float64)
    rows = h.size
    if rows < 3:
        return 0
    t = np.arange(rows, dtype=np.float64)
    hinge = np.maximum(t[None, :] - t[: rows - 1, None], 0.0)
    centred = hinge - hinge.mean(axis=1, keepdims=True)
    covariance = centred @ (h - h.mean())
    variance = np.sum(centred**2, axis=1)
    rising = (covariance > 0) & (variance > 0)
    if not rising.any():
        return 0
    gain = np.where(rising, covariance**2 / np.where(variance > 0, variance, 1.0), -np.inf)
    return int(np.argmax(gain))


def truncation_weights(lives: Sequence[int], onsets: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per row of the concatenated runs: its weight as a uniformly drawn cut.

    A run of ``life`` rows can be cut after row ``i`` when ``onset <= i`` and at least one
    row is left (``i < life - 1``); each admissible row gets ``1 / admissible rows``, so
    every run weighs one. An onset past the last admissible row falls back to it; a
    one-row run has no admissible cut and weighs nothing.
    """
    blocks = []
    for life, onset in zip(lives, onsets, strict=True):
        row = np.arange(life)
        admissible = (row >= min(int(onset), life - 2)) & (row < life - 1)
        count = int(admissible.sum())
        blocks.append(admissible / count if count else np.zeros(life))
    return np.concatenate(blocks) if blocks else np.zeros(0)


def calibration_weights(lives: Sequence[int], onsets: Sequence[int] | np.ndarray) -> np.ndarray:
    """Weights for the interval calibration: both questions a unit is asked, once each.

    A test history is cut after its fault's onset, but a unit in service is asked about
    at any age, before its fault too, and a healthy-looking unit then has anything from
    the cap to a whole extra life left. Calibrating on the first question alone would make
    intervals of healthy units too narrow; on the second alone, those of the test's
    question too wide near the cap. Each unit therefore counts once cut after its onset
    and once cut anywhere (uniformly over its whole run).
    """
    anywhere = truncation_weights(lives, [0] * len(lives))
    return np.asarray(truncation_weights(lives, onsets) + anywhere, dtype=np.float64)
