"""The compiled shape detectors on their own: what a device does as a habit is learned,
unless a fault on that metric is suspected."""

from __future__ import annotations

import random

import numpy as np

from cloud.diagnosis.shapes import ShapeBank

DAY = 1440


def _glitching(days: int, quiet_days: int = 0) -> np.ndarray:
    """One metric with noise and, after ``quiet_days``, an isolated glitch every 25
    samples."""
    rng = random.Random(4)
    return np.array(
        [
            [20 + rng.gauss(0, 0.3) + (15 if i >= quiet_days * DAY and i % 25 == 0 else 0)]
            for i in range(days * DAY)
        ]
    )


def _reported_last_day(values: np.ndarray, held: tuple[str, ...] = ()) -> int:
    bank = ShapeBank()
    bank.columns(["t"])
    bank.observe(values[:DAY])
    return int((bank.observe(values[DAY:], held).spike[-DAY:, 0] >= 0.5).sum())


def test_a_devices_usual_glitches_stop_being_reported_once_learned() -> None:
    bank = ShapeBank()
    bank.columns(["t"])
    spikes = bank.observe(_glitching(5)).spike[:, 0]
    assert (spikes[:DAY] >= 0.5).sum() > 0, "at first they look like a faulty sensor"
    assert (spikes[-DAY:] >= 0.5).sum() == 0, "after days, their rate is the usual one"


def test_glitches_that_start_while_a_fault_is_suspected_are_not_learned_as_usual() -> None:
    """A quiet first day, then the glitches: unheld, their rate becomes the device's
    habit within days; held (a spike incident building up and open), they keep being
    reported."""
    values = _glitching(5, quiet_days=1)
    assert _reported_last_day(values) == 0
    assert _reported_last_day(values, held=("t",)) > 100
