"""How a wearing part degrades and when it fails, shared by every simulated model.

A ``wear-out`` fault (:mod:`firmware_sim.faults`) gives a part its start and its time to
failure; this module turns that into a *wear level* the model's physics scale its effect
by (contact resistance, compressor efficiency), and into the ``part_failed`` event the
device reports once when the part gives out.

The level follows the accelerating curve reliability engineers fit to degradation paths,
``(exp(k τ) - 1) / (exp(k) - 1)`` of the elapsed share ``τ`` of the life: slow at first,
steep near the end. Each device draws its own steepness ``k`` and the level at which its
part gives out from its key, so two devices with the same time to failure still wear
differently, and a slow day-to-day wobble (a few per cent) rides on top. Everything is a
pure function of (device key, fault index, time), so it replays identically.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Protocol

from device_agent.hal import DeviceEvent
from firmware_sim.faults import Fault
from firmware_sim.models.signals import SECONDS_PER_DAY, smooth_noise, unit

__all__ = ["PART_FAILED_EVENT", "WearParts", "WearRecord"]

PART_FAILED_EVENT = "part_failed"
WOBBLE = 0.04
"""Relative day-to-day wobble of the wear level (load history, humidity)."""


class WearRecord(Protocol):
    """What the wear model reads of an injected fault (the device's fault record)."""

    fault: Fault
    index: int
    failure_reported: bool

    @property
    def magnitude(self) -> float: ...

    def active_at(self, t_s: float) -> bool: ...


@lru_cache(maxsize=4096)
def _shape(key: int, index: int) -> tuple[float, float]:
    """(steepness k, level at failure) of one device's wear path."""
    steepness = 2.0 + 3.0 * unit(key, index, 11)
    at_failure = 0.8 + 0.4 * unit(key, index, 12)
    return steepness, at_failure


def _level(record: WearRecord, key: int, t_s: float) -> float:
    fault = record.fault
    failure_s = fault.failure_s
    if failure_s is None or not record.active_at(t_s):
        return 0.0
    share = min(1.0, (t_s - fault.start_s) / (failure_s - fault.start_s))
    steepness, at_failure = _shape(key, record.index)
    path = math.expm1(steepness * share) / math.expm1(steepness)
    wobble = 1.0 + WOBBLE * smooth_noise(key ^ (0xE1 + record.index), t_s, SECONDS_PER_DAY)
    return record.magnitude * at_failure * path * wobble


def _failed(record: WearRecord, t_s: float) -> bool:
    failure_s = record.fault.failure_s
    return failure_s is not None and failure_s <= t_s and record.active_at(t_s)


class WearParts:
    """A device's wear-out faults: their summed wear level and whether a part has failed
    at a time, and the ``part_failed`` events due. The physics asks several times per
    step for the same instant, so the last answer is remembered; :meth:`invalidate` after
    anything that clears a fault."""

    def __init__(self, key: int) -> None:
        self._key = key
        self._records: list[WearRecord] = []
        self._memo: tuple[float, float, bool] | None = None

    def add(self, record: WearRecord) -> None:
        self._records.append(record)
        self._memo = None

    def invalidate(self) -> None:
        self._memo = None

    def state_at(self, t_s: float) -> tuple[float, bool]:
        """(wear level, part failed) at ``t_s``. The level is 0 before a wear-out starts,
        rises (in expectation monotonically) to about its magnitude at failure and stays
        there while the broken part waits for its replacement."""
        if not self._records:
            return 0.0, False
        memo = self._memo
        if memo is not None and memo[0] == t_s:
            return memo[1], memo[2]
        level = sum(_level(record, self._key, t_s) for record in self._records)
        failed = any(_failed(record, t_s) for record in self._records)
        self._memo = (t_s, level, failed)
        return level, failed

    def due_failures(self, model: str, now_s: float) -> list[DeviceEvent]:
        """``part_failed`` events of parts that gave out by ``now_s`` and were not
        reported yet, stamped with the failure time; each is returned once."""
        events = []
        for record in self._records:
            fault = record.fault
            failure_s = fault.failure_s
            if failure_s is None or record.failure_reported or failure_s > now_s:
                continue
            if not record.active_at(failure_s):  # replaced before it failed
                continue
            record.failure_reported = True
            detail = {"component": fault.target, "signature": fault.signature, "model": model}
            events.append(DeviceEvent(PART_FAILED_EVENT, failure_s, detail))
        return events
