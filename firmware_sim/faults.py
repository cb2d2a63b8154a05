"""Faults a simulated device can suffer and the action that fixes each.

A :class:`Fault` is pure data: what goes wrong, where, from when, for how long and how
badly. It carries no randomness of its own; a device derives whatever it needs (spike
times, flapping pattern) from its own seed, so a fault schedule replays identically.

Each fault has a stable **signature** (``overheat/compressor``, ``sensor-stuck/supply_temp_c``,
``memory-leak/firmware``...) that detectors, playbooks and scenario files key on. The
:data:`REMEDIES` table says which actions clear a fault and which only mitigate it; the
simulated devices consult the same table, so playbooks and the simulator cannot disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
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
    "remedy_for",
]

_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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
    WEAR_OUT = "wear-out"
    """A part degrading towards failure: slowly at first, faster near the end; it fails at
    ``start_s + duration_s`` and stays broken until a ``service_visit`` replaces it."""


SENSOR_KINDS = frozenset({FaultKind.SENSOR_STUCK, FaultKind.SENSOR_DRIFT, FaultKind.SPIKE})
"""Kinds whose target is a metric name and which only falsify the reading, not the physics."""

OVERHEAT_COMPONENTS = frozenset({"compressor", "connector"})
WEAR_COMPONENTS = frozenset({"compressor", "connector"})
"""Parts that wear out: a heat pump's compressor, a charger's connector contacts."""
_FIXED_TARGETS = {FaultKind.MEMORY_LEAK: "firmware", FaultKind.CONNECTIVITY: "flapping"}


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    ``magnitude`` is a dimensionless severity, 1.0 being a typical field case: it scales
    the extra heat of an overheat, the drift rate (metric scale per hour), the spike height,
    the leak rate (1.0 empties the free heap in about four hours) and how often a flapping
    link is down. ``duration_s=None`` means the fault lasts until an action clears it.

    A ``wear-out`` is different: ``duration_s`` is required and is the part's time to
    failure (``failure_s``); the broken part stays broken after it, so the fault has no
    ``end_s`` and only a service visit ends it (``remote_fix`` is always False). Its
    magnitude scales how strongly the wear shows in the telemetry.
    """

    kind: FaultKind
    target: str
    start_s: float
    duration_s: float | None = None
    magnitude: float = 1.0
    remote_fix: bool = True
    """False for a broken part: no remote action clears it, only a ``service_visit``
    (the device still reports the remote fix it was sent as done)."""

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
        if self.kind is FaultKind.WEAR_OUT:
            if self.duration_s is None:
                raise InvalidFault(
                    f"{self.signature} needs duration_s: the part's time to failure in seconds"
                )
            object.__setattr__(self, "remote_fix", False)  # a worn part is replaced on site

    @property
    def signature(self) -> str:
        """Stable key for detectors and playbooks, e.g. ``sensor-drift/return_temp_c``."""
        return f"{self.kind.value}/{self.target}"

    @property
    def end_s(self) -> float | None:
        """When the fault stops on its own; None when only an action ends it (always for
        a wear-out: the part fails then, and stays broken)."""
        if self.duration_s is None or self.kind is FaultKind.WEAR_OUT:
            return None
        return self.start_s + self.duration_s

    @property
    def failure_s(self) -> float | None:
        """When a wearing part fails (``start_s + duration_s``); None for other kinds."""
        if self.kind is not FaultKind.WEAR_OUT or self.duration_s is None:
            return None
        return self.start_s + self.duration_s

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
    failure_s: float | None = None
    """For a wear-out, when the part fails (whether it got that far or was replaced
    before): the ground truth remaining-useful-life predictions are scored against."""


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
    elif kind in (FaultKind.OVERHEAT, FaultKind.WEAR_OUT):
        components = OVERHEAT_COMPONENTS if kind is FaultKind.OVERHEAT else WEAR_COMPONENTS
        if target not in components:
            known = ", ".join(sorted(components))
            raise InvalidFault(f"{kind.value} target must be one of {known}, not {target!r}")
    elif target != _FIXED_TARGETS[kind]:
        raise InvalidFault(f"{kind.value} target must be {_FIXED_TARGETS[kind]!r}, not {target!r}")


@dataclass(frozen=True)
class Remedy:
    """Actions that end a fault (``clears``), only soften its effect (``mitigates``) or
    make it worse (``worsens``).

    A clearing action takes with probability ``success`` (a service visit always does):
    a recalibration can fail to hold, a filter clean can miss the clog; the device reports
    the action done either way, so only the telemetry tells. Sensor remedies named
    ``recalibrate_sensor`` only act on the metric given in the action's ``metric`` parameter.
    """

    clears: tuple[str, ...]
    mitigates: tuple[str, ...] = ()
    success: float = 0.9
    worsens: tuple[str, ...] = ()


WORSEN_FACTOR = 1.5
"""How much a wrong action that makes things worse raises the fault's severity."""

REMEDIES: Mapping[str, Remedy] = MappingProxyType(
    {
        "overheat/compressor": Remedy(
            ("clean_filter", "service_visit"), ("reduce_load",), success=0.85
        ),
        "overheat/connector": Remedy(
            ("reset_connector", "service_visit"),
            ("derate_current", "reduce_load"),
            success=0.85,
            # a reboot under load re-arcs the worn contact
            worsens=("restart_firmware",),
        ),
        FaultKind.SENSOR_STUCK.value: Remedy(("recalibrate_sensor", "service_visit"), success=0.9),
        FaultKind.SENSOR_DRIFT.value: Remedy(("recalibrate_sensor", "service_visit"), success=0.9),
        FaultKind.SPIKE.value: Remedy(("recalibrate_sensor", "service_visit"), success=0.8),
        "memory-leak/firmware": Remedy(("restart_firmware",), success=0.95),
        "connectivity/flapping": Remedy(("reset_radio",), success=0.85),
        # a worn part is replaced, never repaired remotely
        "wear-out/compressor": Remedy(("service_visit",), success=1.0),
        "wear-out/connector": Remedy(("service_visit",), success=1.0),
    }
)
"""Keyed by full signature, or by kind alone for sensor faults (any metric)."""


def remedy_for(fault: Fault) -> Remedy:
    """The remedy entry for ``fault``: by full signature first, then by kind."""
    return REMEDIES.get(fault.signature) or REMEDIES[fault.kind.value]
