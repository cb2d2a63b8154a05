"""Faults a simulated device can suffer, the action that fixes each, and fleet schedules.

A :class:`Fault` is pure data: what goes wrong, where, from when, for how long and how
badly. It carries no randomness of its own; a device derives whatever it needs (spike
times, flapping pattern) from its own seed, so a fault schedule replays identically.

Each fault has a stable **signature** (``overheat/compressor``, ``sensor-stuck/supply_temp_c``,
``memory-leak/firmware``...) that detectors, playbooks and scenario files key on. The
:data:`REMEDIES` table says which actions clear a fault and which only mitigate it; the
simulated devices consult the same table, so playbooks and the simulator cannot disagree.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "REMEDIES",
    "Fault",
    "FaultKind",
    "FaultNotApplicable",
    "FaultWindow",
    "InvalidFault",
    "Remedy",
    "plan_faults",
    "remedy_for",
]

_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SECONDS_PER_DAY = 86_400.0


class InvalidFault(ValueError):
    """A fault description that makes no sense (unknown kind, bad target, negative time)."""


class FaultNotApplicable(InvalidFault):
    """A valid fault that the chosen device model cannot suffer (no such metric/component)."""


class FaultKind(StrEnum):
    """What goes wrong. The value is the first half of the signature."""

    OVERHEAT = "overheat"
    SENSOR_STUCK = "sensor-stuck"
    SENSOR_DRIFT = "sensor-drift"
    SPIKE = "spike"
    MEMORY_LEAK = "memory-leak"
    CONNECTIVITY = "connectivity"


SENSOR_KINDS = frozenset({FaultKind.SENSOR_STUCK, FaultKind.SENSOR_DRIFT, FaultKind.SPIKE})
"""Kinds whose target is a metric name and which only falsify the reading, not the physics."""

OVERHEAT_COMPONENTS = frozenset({"compressor", "connector"})
_FIXED_TARGETS = {FaultKind.MEMORY_LEAK: "firmware", FaultKind.CONNECTIVITY: "flapping"}


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    ``magnitude`` is a dimensionless severity, 1.0 being a typical field case: it scales
    the extra heat of an overheat, the drift rate (metric scale per hour), the spike height,
    the leak rate (1.0 empties the free heap in about four hours) and how often a flapping
    link is down. ``duration_s=None`` means the fault lasts until an action clears it.
    """

    kind: FaultKind
    target: str
    start_s: float
    duration_s: float | None = None
    magnitude: float = 1.0

    def __post_init__(self) -> None:
        # Scenario files hand us plain strings; accept them but store the enum.
        object.__setattr__(self, "kind", _parse_kind(self.kind))
        _check_target(self.kind, self.target)
        if not math.isfinite(self.start_s):
            raise InvalidFault(f"start_s must be a finite number, not {self.start_s!r}")
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s > 0
        ):
            raise InvalidFault(f"duration_s must be positive or None, not {self.duration_s!r}")
        if not (math.isfinite(self.magnitude) and self.magnitude > 0):
            raise InvalidFault(f"magnitude must be a positive number, not {self.magnitude!r}")

    @property
    def signature(self) -> str:
        """Stable key for detectors and playbooks, e.g. ``sensor-drift/return_temp_c``."""
        return f"{self.kind.value}/{self.target}"

    @property
    def end_s(self) -> float | None:
        """When the fault stops on its own; None when only an action ends it."""
        return None if self.duration_s is None else self.start_s + self.duration_s

    @classmethod
    def from_signature(
        cls,
        signature: str,
        start_s: float,
        duration_s: float | None = None,
        magnitude: float = 1.0,
    ) -> Fault:
        """Build a fault from its signature, as scenario files and playbooks name them."""
        kind, sep, target = signature.partition("/")
        if not sep:
            raise InvalidFault(f"fault signature {signature!r} must look like 'kind/target'")
        return cls(_parse_kind(kind), target, start_s, duration_s, magnitude)


@dataclass(frozen=True)
class FaultWindow:
    """Ground truth for one injected fault, for scoring detectors and fixes.

    ``end_s`` is when the fault stops or stopped: the end of its duration, or the moment an
    action cleared it (``cleared_by``); None while nothing has ended an open-ended fault. Effects
    with inertia (a hot compressor cooling down) fade after ``end_s`` at the physics' own
    pace: the window is the fault, not the symptom.
    """

    fault: Fault
    kind: FaultKind
    signature: str
    start_s: float
    end_s: float | None
    cleared_by: str | None


def _parse_kind(value: object) -> FaultKind:
    try:
        return FaultKind(str(value))
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise InvalidFault(f"unknown fault kind {value!r}; known: {known}") from None


def _check_target(kind: FaultKind, target: str) -> None:
    if kind in SENSOR_KINDS:
        if not _METRIC_NAME.match(target):
            raise InvalidFault(f"{kind.value} needs a metric name as target, not {target!r}")
    elif kind is FaultKind.OVERHEAT:
        if target not in OVERHEAT_COMPONENTS:
            known = ", ".join(sorted(OVERHEAT_COMPONENTS))
            raise InvalidFault(f"overheat target must be one of {known}, not {target!r}")
    elif target != _FIXED_TARGETS[kind]:
        raise InvalidFault(f"{kind.value} target must be {_FIXED_TARGETS[kind]!r}, not {target!r}")


@dataclass(frozen=True)
class Remedy:
    """Actions that end a fault (``clears``) or only soften its effect (``mitigates``).

    Sensor remedies named ``recalibrate_sensor`` only act on the metric given in the
    action's ``metric`` parameter.
    """

    clears: tuple[str, ...]
    mitigates: tuple[str, ...] = ()


REMEDIES: Mapping[str, Remedy] = MappingProxyType(
    {
        "overheat/compressor": Remedy(("clean_filter", "service_visit"), ("reduce_load",)),
        "overheat/connector": Remedy(
            ("reset_connector", "service_visit"), ("derate_current", "reduce_load")
        ),
        FaultKind.SENSOR_STUCK.value: Remedy(("recalibrate_sensor", "service_visit")),
        FaultKind.SENSOR_DRIFT.value: Remedy(("recalibrate_sensor", "service_visit")),
        FaultKind.SPIKE.value: Remedy(("recalibrate_sensor", "service_visit")),
        "memory-leak/firmware": Remedy(("restart_firmware",)),
        "connectivity/flapping": Remedy(("reset_radio",)),
    }
)
"""Keyed by full signature, or by kind alone for sensor faults (any metric)."""


def remedy_for(fault: Fault) -> Remedy:
    """The remedy entry for ``fault``: by full signature first, then by kind."""
    return REMEDIES.get(fault.signature) or REMEDIES[fault.kind.value]


def plan_faults(
    device_ids: Sequence[str],
    models: Mapping[str, str] | Sequence[str] | str,
    rng_seed: int,
    start_s: float,
    duration_s: float,
    rate_per_device_day: float,
) -> dict[str, list[Fault]]:
    """Draw an occasional-fault schedule for a fleet.

    Faults arrive per device as a Poisson process of ``rate_per_device_day`` within
    ``[start_s, start_s + duration_s)``; each is picked from the device model's fault menu
    (weighted), at most once per signature per device. About half last until fixed, the
    rest end by themselves after 10 minutes to 6 hours. ``models`` is one model id for the
    whole fleet, a sequence parallel to ``device_ids`` or a mapping device id -> model.
    The plan for a device depends only on (rng_seed, device id, model, times, rate).
    """
    if duration_s < 0 or rate_per_device_day < 0:
        raise ValueError("duration_s and rate_per_device_day must not be negative")
    model_of = _models_by_device(device_ids, models)
    return {
        device_id: _plan_one(
            device_id, model_of[device_id], rng_seed, start_s, duration_s, rate_per_device_day
        )
        for device_id in device_ids
    }


def _models_by_device(
    device_ids: Sequence[str], models: Mapping[str, str] | Sequence[str] | str
) -> dict[str, str]:
    if isinstance(models, str):
        return dict.fromkeys(device_ids, models)
    if isinstance(models, Mapping):
        missing = [d for d in device_ids if d not in models]
        if missing:
            raise ValueError(f"no model given for devices {missing[:5]}")
        return {d: models[d] for d in device_ids}
    if len(models) != len(device_ids):
        raise ValueError(f"{len(models)} models given for {len(device_ids)} devices")
    return dict(zip(device_ids, models, strict=True))


def _plan_one(
    device_id: str, model: str, rng_seed: int, start_s: float, duration_s: float, rate: float
) -> list[Fault]:
    # Imported here: the models import this module for Fault and REMEDIES.
    from firmware_sim.models.registry import model_class

    menu = dict(model_class(model).FAULT_MENU)
    digest = hashlib.sha256(f"plan:{rng_seed}:{device_id}:{model}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    faults: list[Fault] = []
    t = start_s
    while rate > 0 and menu:
        t += rng.expovariate(rate / SECONDS_PER_DAY)
        if t >= start_s + duration_s:
            break
        signature = rng.choices(list(menu), weights=list(menu.values()))[0]
        del menu[signature]
        lasting = None if rng.random() < 0.5 else rng.uniform(600.0, 6 * 3600.0)
        magnitude = round(rng.uniform(0.7, 1.5), 3)
        faults.append(Fault.from_signature(signature, round(t, 3), lasting, magnitude))
    return faults
