"""What the world does to a healthy fleet: weather fronts, holidays, a firmware rollout and
devices installed mid-run.

A quiet simulated week is easier than a real one: real fleets see multi-day cold snaps,
days when households are away, firmware updates that move a baseline and brand-new units
that start reporting with no history. A false-alarm rate measured without them flatters
the detectors, so a benchmark can opt in with an :class:`Environment` (``None``, the
default everywhere, leaves every device exactly as it was).

An environment is plain data, drawn deterministically from a seed by
:func:`plan_environment`; each device derives its own share of it (whether its household
is away on a holiday, when the rollout reaches it) from its device key, so a device's
telemetry stays a pure function of (seed, device id, environment, clock readings).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from firmware_sim.models.signals import SECONDS_PER_DAY, SECONDS_PER_HOUR, derive_key, unit

__all__ = [
    "Environment",
    "FirmwareUpdate",
    "Holiday",
    "WeatherFront",
    "plan_environment",
]

_AWAY_SALT = 0x40_11DA
_ROLLOUT_SALT = 0x0F_0A7E
_FRONT_SALT = 0xF2_0E7


@dataclass(frozen=True)
class WeatherFront:
    """A weather system passing over the region: the outdoor temperature moves by
    ``delta_c`` over ``ramp_s``, stays there ``hold_s``, then returns over ``ramp_s``.
    Each site sees it up to ``spread_s`` later than ``start_s`` (the front travels)."""

    start_s: float
    delta_c: float
    ramp_s: float = 12 * SECONDS_PER_HOUR
    hold_s: float = 2 * SECONDS_PER_DAY
    spread_s: float = 6 * SECONDS_PER_HOUR

    def offset_c(self, t_s: float, lag_s: float) -> float:
        """Temperature change at a site reached ``lag_s`` after the front's start."""
        x = t_s - (self.start_s + lag_s)
        if x <= 0 or x >= 2 * self.ramp_s + self.hold_s:
            return 0.0
        rising = min(1.0, x / self.ramp_s)
        falling = min(1.0, (2 * self.ramp_s + self.hold_s - x) / self.ramp_s)
        return self.delta_c * _ease(min(rising, falling))


@dataclass(frozen=True)
class Holiday:
    """A local calendar day (days since the epoch) on which ``away_share`` of households
    are away: the heat pump is set back to ``setpoint_c`` and no car comes to charge."""

    day: int
    away_share: float = 0.6
    setpoint_c: float = 17.0


@dataclass(frozen=True)
class FirmwareUpdate:
    """A rollout reaching ``share`` of the fleet, staggered over ``rollout_s`` from
    ``start_s``. Each updated device reboots and from then on runs ``cpu_extra_pct`` more
    CPU load and ``mem_free_shift`` (a fraction of its free heap) less free memory: the
    new firmware is heavier, a baseline shift and not a fault."""

    start_s: float
    share: float = 0.5
    rollout_s: float = 4 * SECONDS_PER_HOUR
    cpu_extra_pct: float = 4.0
    mem_free_shift: float = 0.06
    version_suffix: str = "+u1"


@dataclass(frozen=True)
class Environment:
    """Fleet-wide conditions; ``installs`` maps device ids to when they are installed
    (a device not listed has been in service all along)."""

    seed: int = 0
    fronts: tuple[WeatherFront, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    firmware_update: FirmwareUpdate | None = None
    installs: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def front_offset_c(self, site_key: int, t_s: float) -> float:
        """Summed temperature change of the fronts at one site (its key sets its lag)."""
        total = 0.0
        for index, front in enumerate(self.fronts):
            lag_s = front.spread_s * unit(site_key, _FRONT_SALT, index)
            total += front.offset_c(t_s, lag_s)
        return total

    def away(self, device_key: int, day: int) -> Holiday | None:
        """The holiday on local ``day`` if this device's household is away then."""
        for holiday in self.holidays:
            if holiday.day == day and unit(device_key, _AWAY_SALT, day) < holiday.away_share:
                return holiday
        return None

    def update_at(self, device_id: str) -> float | None:
        """When the firmware rollout reaches this device; None if it never does."""
        update = self.firmware_update
        if update is None:
            return None
        key = derive_key(self.seed, device_id, "firmware-update")
        if unit(key, _ROLLOUT_SALT, 0) >= update.share:
            return None
        return update.start_s + update.rollout_s * unit(key, _ROLLOUT_SALT, 1)

    def install_at(self, device_id: str) -> float | None:
        """When a mid-run device is installed; None for a device in service all along."""
        return self.installs.get(device_id)


def _ease(x: float) -> float:
    """Cosine ease from 0 to 1: weather turns smoothly, not in a step."""
    return (1.0 - math.cos(math.pi * x)) / 2.0


def plan_environment(
    device_ids: Sequence[str],
    seed: int,
    start_s: float,
    duration_s: float,
    settle_s: float = SECONDS_PER_DAY,
    install_share: float = 0.15,
) -> Environment:
    """Draw an environment for a fleet observed over ``[start_s, start_s + duration_s)``.

    Events fall after ``settle_s`` (the fleet's warm-up), where a benchmark counts false
    incidents: about one front per four days (at least one, cold in this heating
    season more often than mild), one holiday per five days (at least one), one firmware
    rollout, and ``install_share`` of the devices (at least one in a fleet of four or more)
    installed mid-run, days after the others. Deterministic in its arguments."""
    rng = random.Random(
        derive_key(seed, "environment", len(device_ids), round(start_s), round(duration_s))
    )
    settle_s = min(settle_s, 0.5 * duration_s)
    window = (start_s + settle_s, start_s + duration_s)
    days = duration_s / SECONDS_PER_DAY
    fronts = tuple(_draw_front(rng, window) for _ in range(max(1, round(days / 4))))
    holidays = _draw_holidays(rng, window, max(1, round(days / 5)))
    span = window[1] - window[0]
    update = FirmwareUpdate(start_s=window[0] + span * rng.uniform(0.1, 0.5))
    installs = _draw_installs(rng, device_ids, window, install_share)
    return Environment(seed, fronts, holidays, update, MappingProxyType(installs))


def _draw_front(rng: random.Random, window: tuple[float, float]) -> WeatherFront:
    start_s = rng.uniform(window[0] - 0.5 * SECONDS_PER_DAY, window[1] - SECONDS_PER_DAY)
    sign = -1.0 if rng.random() < 0.7 else 1.0
    return WeatherFront(
        start_s=start_s,
        delta_c=sign * rng.uniform(5.0, 10.0),
        ramp_s=rng.uniform(6.0, 18.0) * SECONDS_PER_HOUR,
        hold_s=rng.uniform(1.0, 3.0) * SECONDS_PER_DAY,
    )


def _draw_holidays(
    rng: random.Random, window: tuple[float, float], count: int
) -> tuple[Holiday, ...]:
    first = math.ceil(window[0] / SECONDS_PER_DAY)
    last = max(first, math.floor(window[1] / SECONDS_PER_DAY) - 1)
    days = list(range(first, last + 1))
    chosen = sorted(rng.sample(days, min(count, len(days))))
    return tuple(Holiday(day) for day in chosen)


def _draw_installs(
    rng: random.Random, device_ids: Sequence[str], window: tuple[float, float], share: float
) -> dict[str, float]:
    count = round(share * len(device_ids))
    if count == 0 and share > 0 and len(device_ids) >= 4:
        count = 1
    span = window[1] - window[0]
    chosen = rng.sample(list(device_ids), min(count, len(device_ids)))
    return {d: round(window[0] + span * rng.uniform(0.0, 0.6), 3) for d in sorted(chosen)}
