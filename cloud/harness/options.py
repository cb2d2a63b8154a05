"""What a local stack runs: plain data, cheap to import (the pytest plugin reads it for
every test run without loading the cloud)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal


class StackOptionError(ValueError):
    """An option a stack cannot run with; the message names the option and the reason."""


@dataclass(frozen=True)
class StackOptions:
    """A broker, the cloud and ``devices`` simulated devices on one clock at ``speed``.

    Device time runs ``speed`` times faster than real time for the devices and the
    cloud's timers alike, so an hour of fleet life passes in a real minute at 60.
    """

    devices: int = 4
    """Simulated devices (0: a cloud without a fleet)."""
    models: Sequence[str] | None = None
    """Device models, dealt round-robin (None: every bundled model)."""
    speed: float = 60.0
    seed: int = 1
    """Seeds the fleet's physics: the same seed gives the same devices and readings."""
    telemetry_interval_s: float = 60.0
    """Device time between samples: one a real second at speed 60."""
    fault_rate_per_device_day: float = 0.0
    """Random faults besides the ones a test injects (0: only those)."""
    broker: Literal["embedded", "mosquitto"] = "embedded"
    database_url: str | None = None
    """A SQLAlchemy URL; None: a SQLite file in ``folder``."""
    folder: Path | None = None
    """Where the database, keys and models go; None: a temporary folder, removed after."""
    http_port: int = 0
    """0: a free loopback port."""
    start_timeout_s: float = 30.0
    """Real seconds the broker, cloud and every device get to come up."""

    def __post_init__(self) -> None:
        if self.devices < 0:
            raise StackOptionError(f"devices must be 0 or more, not {self.devices}")
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise StackOptionError(f"speed must be a positive number, not {self.speed}")
        if self.telemetry_interval_s <= 0:
            raise StackOptionError(
                f"telemetry_interval_s must be positive, not {self.telemetry_interval_s}"
            )
        if self.broker not in ("embedded", "mosquitto"):
            raise StackOptionError(f"broker must be 'embedded' or 'mosquitto', not {self.broker!r}")
        if self.models is not None and isinstance(self.models, str):
            raise StackOptionError(f"models must be a list of model names, not {self.models!r}")

    def updated(self, changes: Mapping[str, Any]) -> StackOptions:
        """These options with ``changes`` (from a marker or a fixture parameter); an
        unknown name is refused with the names that exist."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise StackOptionError(f"unknown aftercare options {unknown}; known: {sorted(known)}")
        return replace(self, **changes)
