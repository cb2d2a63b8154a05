"""Simulated connected devices with physics, noise, wear and injected faults.

Each model implements the agent's ``Hal`` protocol, so a fleet of simulated devices drives
the real agent end to end::

    device = build_device("heatpump-hp200", "hp-0001", clock, seed=7)
    device.inject(Fault.from_signature("overheat/compressor", start_s=clock.now() + 3600))
"""

from firmware_sim.fault_plan import plan_faults
from firmware_sim.faults import (
    REMEDIES,
    Fault,
    FaultKind,
    FaultNotApplicable,
    FaultWindow,
    InvalidFault,
    Remedy,
    remedy_for,
)
from firmware_sim.models import (
    MODELS,
    DeviceModelError,
    Environment,
    EvCharger,
    HeatPump,
    MetricSpec,
    NotADeviceModel,
    NotInstalled,
    SimulatedDevice,
    UnknownModel,
    build_device,
    model_class,
    plan_environment,
)

__all__ = [
    "MODELS",
    "REMEDIES",
    "DeviceModelError",
    "Environment",
    "EvCharger",
    "Fault",
    "FaultKind",
    "FaultNotApplicable",
    "FaultWindow",
    "HeatPump",
    "InvalidFault",
    "MetricSpec",
    "NotADeviceModel",
    "NotInstalled",
    "Remedy",
    "SimulatedDevice",
    "UnknownModel",
    "build_device",
    "model_class",
    "plan_environment",
    "plan_faults",
    "remedy_for",
]
