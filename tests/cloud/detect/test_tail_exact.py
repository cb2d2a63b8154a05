"""The compact tail is exact: it fits the same tail as a plain ring buffer of the last
``history`` values would (u, median excess and recurrence counts from the full window),
while keeping only the values that can still matter to a fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.detect.tail import MAX_SURPRISE, TailCalibrator

_LN2 = math.log(2.0)


class _RingTail:
    """Reference: the straightforward ring-buffer calibrator (3000 values per feature)."""

    def __init__(self, history: int, refit_every: int, min_history: int) -> None:
        self.history, self.refit_every, self.min_history = history, refit_every, min_history
        self.buf: list[float] = []
        self.n = 0
        self.u, self.base, self.inv_beta = math.inf, -math.log10(0.05), 0.0
        self.top = np.zeros(0)
        self.n_fit = 0

    def learn(self, value: float) -> None:
        self.buf = [*self.buf, value][-self.history :]
        self.n += 1
        if self.n >= self.min_history and (
            self.n == self.min_history or self.n % self.refit_every == 0
        ):
            data = np.asarray(self.buf)
            n_tail = max(int(len(data) * 0.05), min(25, len(data) // 5))
            k = len(data) - 1 - n_tail
            part = np.partition(data, k)
            self.u = float(part[k])
            self.base = -math.log10(n_tail / len(data))
            beta = float(np.median(part[k + 1 :] - self.u)) / _LN2
            floor = 1e-6 * max(abs(self.u), 1e-3)
            self.top = np.sort(part[k + 1 :])
            self.n_fit = len(data)
            self.inv_beta = 1.0 / (max(beta, floor) * math.log(10.0))

    def surprise(self, value: float) -> float:
        if value <= self.u:
            return 0.0 if self.u in (math.inf, 0.0) else self.base * value / self.u
        s = self.base + (value - self.u) * self.inv_beta
        k = len(self.top) - int(np.searchsorted(self.top, value))
        if k >= 10:
            s = min(s, -math.log10(k / self.n_fit))
        return min(s, MAX_SURPRISE)


@pytest.mark.parametrize(("history", "refit_every"), [(3000, 100), (2000, 100), (600, 50)])
def test_the_compact_tail_fits_exactly_what_a_ring_buffer_does(
    history: int, refit_every: int
) -> None:
    rng = np.random.default_rng(history)
    x = np.concatenate(
        [
            np.abs(rng.normal(size=2 * history)) * 10,  # a noisy start, then forgotten
            np.linspace(5.0, 0.0, history),  # decreasing: every value stays a candidate
            np.round(np.abs(rng.standard_cauchy(2 * history)), 1),  # heavy, tied values
        ]
    )
    compact, ring = TailCalibrator(history, refit_every), _RingTail(history, refit_every, 100)
    probes = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 30.0, 300.0]
    for i, v in enumerate(x):
        if i % 97 == 0:
            assert [compact.surprise(p) for p in probes] == [ring.surprise(p) for p in probes]
        compact.learn(float(v))
        ring.learn(float(v))
