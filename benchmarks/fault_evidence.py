"""When an injected fault first shows in a device's readings: the ground truth a perfect
detector could have had, so recall and delay can also be read on what there was to see.

A fault's start is not when it shows. A sensor drifting one of its scales an hour stays
inside its noise for hours, a hot connector heats only while a car charges at full
current, and a short fault may end before it ever shows. Each simulated device of the
benchmark runs beside a twin built from the same seed with no fault injected (the same
weather, usage and noise); a fault is *evident* from the first sample at which a metric it
acts on reads at least :data:`EVIDENT_SCALES` of that metric's scales away from the twin's
reading. A frozen sensor is evident from its start: its exact repeats are visible at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from firmware_sim.faults import Fault, FaultKind, FaultWindow
from firmware_sim.models import MetricSpec

EVIDENT_SCALES = 3.0
"""A deviation of three of a metric's scales (its typical significant change, as the
simulator defines it): beyond the noise of every metric the simulator produces."""

ACTS_ON: Mapping[str, tuple[str, ...]] = {
    "overheat/compressor": ("compressor_temp_c",),
    "overheat/connector": ("connector_temp_c", "current_limit_a"),
    "memory-leak/firmware": ("mem_free_kb",),
    "connectivity/flapping": ("rssi_dbm",),
}
"""The metrics a fault that is not a sensor's own acts on (a sensor fault acts on its
target). The charger derates its current limit when its connector runs hot."""

Key = tuple[str, str, float]
"""(device id, signature, start) of one injected fault."""


def acts_on(fault: Fault) -> tuple[str, ...]:
    """The metrics whose readings show ``fault`` (empty: unknown, taken as shown at once)."""
    if fault.kind in (FaultKind.SENSOR_STUCK, FaultKind.SENSOR_DRIFT, FaultKind.SPIKE):
        return (fault.target,)
    return ACTS_ON.get(fault.signature, ())


class EvidenceLog:
    """First evident time of each fault, fed one sample of a device and its twin at a time."""

    def __init__(self) -> None:
        self.first: dict[Key, float] = {}

    def observe(
        self,
        device_id: str,
        active: Iterable[Fault],
        readings: Mapping[str, float],
        twin_readings: Mapping[str, float],
        specs: Mapping[str, MetricSpec],
        now: float,
    ) -> None:
        """``specs``: the device model's metrics (their scales size a deviation)."""
        for fault in active:
            key = (device_id, fault.signature, fault.start_s)
            if key in self.first:
                continue
            if _shows(fault, readings, twin_readings, specs):
                self.first[key] = now

    def evident_at(self, device_id: str, window: FaultWindow) -> float | None:
        return self.first.get((device_id, window.signature, window.start_s))


def _shows(
    fault: Fault,
    readings: Mapping[str, float],
    twin_readings: Mapping[str, float],
    specs: Mapping[str, MetricSpec],
) -> bool:
    metrics = acts_on(fault)
    if fault.kind is FaultKind.SENSOR_STUCK or not metrics:
        return True
    for metric in metrics:
        value, truth, spec = readings.get(metric), twin_readings.get(metric), specs.get(metric)
        if value is None or truth is None or spec is None:
            continue
        if abs(value - truth) >= EVIDENT_SCALES * spec.scale:
            return True
    return False
