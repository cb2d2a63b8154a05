"""Model ids to simulated device classes, and the one way to build a device."""

from __future__ import annotations

from device_agent.clock import Clock
from firmware_sim.models.base import SimulatedDevice
from firmware_sim.models.environment import Environment
from firmware_sim.models.evcharger import EvCharger
from firmware_sim.models.heatpump import HeatPump

MODELS: dict[str, type[SimulatedDevice]] = {
    HeatPump.MODEL: HeatPump,
    EvCharger.MODEL: EvCharger,
}
"""Every simulated model by its model id (what the device reports as ``model``)."""


class UnknownModel(KeyError):
    """No simulated model has this id; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def model_class(model: str) -> type[SimulatedDevice]:
    """The class simulating ``model``; raises UnknownModel naming the known models."""
    try:
        return MODELS[model]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise UnknownModel(f"unknown device model {model!r}; known models: {known}") from None


def build_device(
    model: str, device_id: str, clock: Clock, seed: int, environment: Environment | None = None
) -> SimulatedDevice:
    """A fresh simulated device. Same (model, device id, seed, environment) and the same
    sequence of clock readings give the same telemetry, run after run. ``environment``
    (fronts, holidays, a firmware rollout, a mid-run install) is opt-in; None leaves the
    device as it always was."""
    return model_class(model)(device_id, clock, seed, environment)
