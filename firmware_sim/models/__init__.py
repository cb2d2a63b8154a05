"""Simulated device models: one module per model, each implementing the agent's Hal."""

from firmware_sim.models.base import MetricSpec, SimulatedDevice
from firmware_sim.models.evcharger import EvCharger
from firmware_sim.models.heatpump import HeatPump
from firmware_sim.models.registry import MODELS, UnknownModel, build_device, model_class

__all__ = [
    "MODELS",
    "EvCharger",
    "HeatPump",
    "MetricSpec",
    "SimulatedDevice",
    "UnknownModel",
    "build_device",
    "model_class",
]
