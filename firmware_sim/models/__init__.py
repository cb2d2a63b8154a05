"""Simulated device models: one module per model, each implementing the agent's Hal.

What a model of one's own builds on (see ``examples/washing_machine``): subclass
:class:`SimulatedDevice`, describe metrics with :class:`MetricSpec` (plus the shared
:data:`FIRMWARE_METRICS`), take action parameters with :func:`number_param` and refuse bad
ones with :class:`ActionRefused`; the registry (:func:`model_class`) finds it by entry point
or dotted path.
"""

from firmware_sim.models.base import (
    FIRMWARE_METRICS,
    ActionHandler,
    ActionRefused,
    MetricSpec,
    NotInstalled,
    SimulatedDevice,
    number_param,
)
from firmware_sim.models.environment import (
    Environment,
    FirmwareUpdate,
    Holiday,
    WeatherFront,
    plan_environment,
)
from firmware_sim.models.evcharger import EvCharger
from firmware_sim.models.heatpump import HeatPump
from firmware_sim.models.registry import (
    ENTRY_POINT_GROUP,
    MODELS,
    DeviceModelError,
    NotADeviceModel,
    UnknownModel,
    build_device,
    model_class,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "FIRMWARE_METRICS",
    "MODELS",
    "ActionHandler",
    "ActionRefused",
    "DeviceModelError",
    "Environment",
    "EvCharger",
    "FirmwareUpdate",
    "HeatPump",
    "Holiday",
    "MetricSpec",
    "NotADeviceModel",
    "NotInstalled",
    "SimulatedDevice",
    "UnknownModel",
    "WeatherFront",
    "build_device",
    "model_class",
    "number_param",
    "plan_environment",
]
