"""Simulated device models: one module per model, each implementing the agent's Hal."""

from firmware_sim.models.base import MetricSpec, NotInstalled, SimulatedDevice
from firmware_sim.models.environment import (
    Environment,
    FirmwareUpdate,
    Holiday,
    WeatherFront,
    plan_environment,
)
from firmware_sim.models.evcharger import EvCharger
from firmware_sim.models.heatpump import HeatPump
from firmware_sim.models.registry import MODELS, UnknownModel, build_device, model_class

__all__ = [
    "MODELS",
    "Environment",
    "EvCharger",
    "FirmwareUpdate",
    "HeatPump",
    "Holiday",
    "MetricSpec",
    "NotInstalled",
    "SimulatedDevice",
    "UnknownModel",
    "WeatherFront",
    "build_device",
    "model_class",
    "plan_environment",
]
