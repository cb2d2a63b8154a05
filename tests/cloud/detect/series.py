"""Synthetic series for detector tests: step, drift, spike, stuck, seasonal (no files)."""

from __future__ import annotations

import numpy as np

STEP_S = 300.0  # 5-minute samples


def timestamps(n: int) -> np.ndarray:
    return 1_600_000_000.0 + np.arange(n) * STEP_S


def noise(n: int, seed: int = 0, sigma: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


def with_spike(n: int, at: int, size: float = 12.0, seed: int = 0) -> np.ndarray:
    x = noise(n, seed) + 50.0
    x[at] += size
    return x


def with_step(n: int, at: int, size: float = 8.0, seed: int = 0) -> np.ndarray:
    x = noise(n, seed) + 50.0
    x[at:] += size
    return x


def with_drift(n: int, start: int, slope: float = 0.05, seed: int = 0) -> np.ndarray:
    x = noise(n, seed) + 50.0
    x[start:] += slope * np.arange(n - start)
    return x


def stuck(n: int, at: int, seed: int = 0) -> np.ndarray:
    """Noisy signal that freezes at its last value from ``at`` on (a stuck sensor)."""
    x = noise(n, seed) + 50.0
    x[at:] = x[at]
    return x


def seasonal(n: int, seed: int = 0, missing_peak_day: int | None = None) -> np.ndarray:
    """Daily square-ish cycle; optionally one day's high phase does not happen."""
    t = timestamps(n)
    phase = (t % 86_400.0) / 86_400.0
    x = 20.0 + 40.0 * ((phase > 0.4) & (phase < 0.6)) + noise(n, seed, 0.5)
    if missing_peak_day is not None:
        day = ((t - t[0]) // 86_400.0).astype(int)
        mask = (day == missing_peak_day) & (phase > 0.4) & (phase < 0.6)
        x[mask] = 20.0 + noise(int(mask.sum()), seed + 1, 0.5)
    return x
