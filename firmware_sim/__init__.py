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
    Environment,
    EvCharger,
    HeatPump,
    MetricSpec,
    NotInstalled,
    SimulatedDevice,
    UnknownModel,
    build_device,
    plan_environment,
)

__all__ = [
    "MODELS",
    "REMEDIES",
    "Environment",
    "EvCharger",
    "Fault",
    "FaultKind",
    "FaultNotApplicable",
    "FaultWindow",
    "HeatPump",
    "InvalidFault",
    "MetricSpec",
    "NotInstalled",
    "Remedy",
    "SimulatedDevice",
    "UnknownModel",
    "build_device",
    "plan_environment",
    "plan_faults",
    "remedy_for",
]
