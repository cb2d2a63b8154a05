"""What the cloud knows about each product model, as data: the manufacturer's hard
limits, and which deviation of which metric means which fault signature.

Signatures are the stable labels remediation keys on (``overheat/compressor``,
``sensor-stuck/supply_temp_c``...). A model without a profile still gets the firmware
rules and the learned detectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["high", "low"]


@dataclass(frozen=True)
class Limit:
    """A hard limit from the product's specification: beyond it is a fault, whatever the
    device's history says."""

    metric: str
    direction: Direction
    value: float
    signature: str


@dataclass(frozen=True)
class ModelProfile:
    model: str
    limits: tuple[Limit, ...] = ()
    meaning: dict[tuple[str, Direction], str] = field(default_factory=dict)
    """(metric, direction of a sustained deviation) -> signature, e.g. a compressor running
    hotter than its own baseline is ``overheat/compressor``."""
    trends: dict[tuple[str, Direction], str] = field(default_factory=dict)
    """(metric, direction of an unusually steady trend) -> signature: where a slope alone
    means a fault (free memory draining away is a leak long before it runs out)."""


FIRMWARE_TRENDS: dict[tuple[str, Direction], str] = {
    ("mem_free_kb", "low"): "memory-leak/firmware",
}

FIRMWARE_MEANING: dict[tuple[str, Direction], str] = {
    ("mem_free_kb", "low"): "memory-leak/firmware",
    ("rssi_dbm", "low"): "connectivity/flapping",
}

PROFILES: dict[str, ModelProfile] = {
    "heatpump-hp200": ModelProfile(
        model="heatpump-hp200",
        limits=(Limit("compressor_temp_c", "high", 105.0, "overheat/compressor"),),
        meaning={
            ("compressor_temp_c", "high"): "overheat/compressor",
            **FIRMWARE_MEANING,
        },
        trends=dict(FIRMWARE_TRENDS),
    ),
    "evcharger-ec11": ModelProfile(
        model="evcharger-ec11",
        limits=(Limit("connector_temp_c", "high", 70.0, "overheat/connector"),),
        meaning={
            ("connector_temp_c", "high"): "overheat/connector",
            # the charger lowers its own current limit when its connector runs hot
            ("current_limit_a", "low"): "overheat/connector",
            **FIRMWARE_MEANING,
        },
        trends=dict(FIRMWARE_TRENDS),
    ),
}


def profile_for(model: str | None) -> ModelProfile:
    """The model's profile, or a generic one that knows only the firmware metrics."""
    if model in PROFILES:
        return PROFILES[model]
    return ModelProfile(
        model=model or "unknown", meaning=dict(FIRMWARE_MEANING), trends=dict(FIRMWARE_TRENDS)
    )
