"""Time as a dependency.

Core logic, agents and the cloud's timers ask a :class:`Clock` for the time instead of
reading ``time.time()``, so the simulator can run a fleet faster than real time with the
same code, and tests can pin time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock seconds since the Unix epoch, and a way to wait on that scale."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``speed`` times faster than real time from ``start_s`` on.

    Simulated devices and a cloud sharing one ScaledClock see hours pass in minutes, while
    network timeouts (which are real) stay real.
    """

    def __init__(self, start_s: float, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start_s = start_s
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        return self.start_s + (time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """Time that moves only when told to: for deterministic tests of timers."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self._now = start_s

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)
