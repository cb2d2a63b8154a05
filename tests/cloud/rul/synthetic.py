"""Synthetic run-to-failure fleets: health signals degrading exponentially towards
failure, with sensor noise, per-unit initial wear and two operating regimes that move
the sensors far more than wear does (as C-MAPSS FD002/FD004 do)."""

from __future__ import annotations

import numpy as np

SETTINGS = np.array([[10.0, 0.2], [35.0, 0.8]])
"""The two regimes' operating settings (two condition columns)."""
REGIME_LEVEL = np.array([[0.0, 0.0, 0.0, 0.0], [8.0, -5.0, 3.0, 6.0]])
WEAR_GAIN = np.array([2.0, -1.5, 1.0, 0.0])
"""How far each signal moves at failure; the last one is pure noise."""


def unit_history(rng: np.random.Generator, life: int, truncate_at: int | None = None) -> np.ndarray:
    """One unit's rows: 2 condition columns, 4 health signals, 1 constant column.

    The unit fails right after row ``life - 1``; ``truncate_at`` keeps that many rows.
    """
    t = np.arange(life)
    onset = rng.uniform(20.0, 30.0)
    health = np.exp((t - (life - 1)) / onset)
    regime = rng.integers(0, 2, size=life)
    wear = rng.normal(0.0, 0.3, size=4)
    noise = rng.normal(0.0, 0.15, size=(life, 4))
    signals = REGIME_LEVEL[regime] + wear + health[:, None] * WEAR_GAIN + noise
    settings = SETTINGS[regime] + rng.normal(0.0, 0.01, size=(life, 2))
    rows = np.hstack([settings, signals, np.full((life, 1), 7.0)])
    return rows[: truncate_at or life]


def fleet(units: int, seed: int) -> list[np.ndarray]:
    """Run-to-failure histories of ``units`` units with lives of 80 to 200 rows."""
    rng = np.random.default_rng(seed)
    return [unit_history(rng, int(rng.integers(80, 201))) for _ in range(units)]
