"""Deterministic randomness that depends on time, not on how often anyone looks.

Weather, charging sessions, spike instants and link flaps are pure functions of
(device key, simulated time): a device read every second and one read every minute see
the same weather at the same simulated instant, which is what lets a fleet run at 60x
with the same physics per simulated second.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from functools import lru_cache

SECONDS_PER_HOUR = 3_600.0
SECONDS_PER_DAY = 86_400.0


def derive_key(*parts: str | int) -> int:
    """A 64-bit key from (seed, device id, purpose...): stable across runs and machines
    (unlike ``hash()``, which Python salts per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def unit(key: int, *ints: int) -> float:
    """A uniform number in [0, 1) determined by ``key`` and the integers ``ints``."""
    data = struct.pack(f">Q{len(ints)}q", key, *ints)
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def smooth_noise(key: int, t_s: float, period_s: float) -> float:
    """Value noise in [-1, 1]: random knots every ``period_s`` joined by a cosine ease, so
    the signal wanders smoothly on that time scale."""
    position = t_s / period_s
    knot = math.floor(position)
    frac = position - knot
    ease = (1.0 - math.cos(math.pi * frac)) / 2.0
    before = _knot(key, knot)
    after = _knot(key, knot + 1)
    return before + (after - before) * ease


@lru_cache(maxsize=8192)
def _knot(key: int, knot: int) -> float:
    """A knot of :func:`smooth_noise` in [-1, 1]. Cached: consecutive instants share their
    knots (hours to days apart), and hashing them anew was most of a simulated step."""
    return unit(key, knot) * 2.0 - 1.0


def local_hour(t_s: float, utc_offset_s: float) -> float:
    """Hour of the local day in [0, 24)."""
    return ((t_s + utc_offset_s) % SECONDS_PER_DAY) / SECONDS_PER_HOUR


def local_day(t_s: float, utc_offset_s: float) -> int:
    """Index of the local day since the epoch (days start at local midnight)."""
    return math.floor((t_s + utc_offset_s) / SECONDS_PER_DAY)


def relax(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order lag toward ``target`` with time constant ``tau_s``, solved exactly, so
    one 60 s step and sixty 1 s steps land on the same value for a constant target."""
    return target + (value - target) * math.exp(-dt_s / tau_s)


class Weather:
    """Outdoor air temperature for one site: a daily cycle peaking mid-afternoon plus weather
    systems drifting over days and hours, plus ``shift`` (weather fronts of an opt-in
    environment) when given. A pure function of time; the last answer is remembered
    because physics and readings ask for the same instant several times."""

    def __init__(
        self,
        key: int,
        mean_c: float,
        daily_amplitude_c: float,
        utc_offset_s: float,
        shift: Callable[[float], float] | None = None,
    ) -> None:
        self.key = key
        self.mean_c = mean_c
        self.daily_amplitude_c = daily_amplitude_c
        self.utc_offset_s = utc_offset_s
        self.shift = shift
        self._cached: tuple[float, float] | None = None

    def outdoor_c(self, t_s: float) -> float:
        if self._cached is not None and self._cached[0] == t_s:
            return self._cached[1]
        hour = local_hour(t_s, self.utc_offset_s)
        daily = self.daily_amplitude_c * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
        systems = 4.0 * smooth_noise(self.key, t_s, 1.5 * SECONDS_PER_DAY)
        gusts = 1.2 * smooth_noise(self.key ^ 0x5A5A, t_s, 3.0 * SECONDS_PER_HOUR)
        value = self.mean_c + daily + systems + gusts
        if self.shift is not None:
            value += self.shift(t_s)
        self._cached = (t_s, value)
        return value
