"""The Aftercare device agent: what a product integrator needs, and nothing else.

``Agent`` (and with it aiomqtt) loads on first use, so ``from device_agent import
contract`` — what the cloud and the simulator import — stays free of the MQTT stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from device_agent.clock import Clock, ScaledClock, SystemClock
from device_agent.hal import ActionOutcome, DeviceEvent, Hal, ReportsEvents, UnknownAction
from device_agent.link import Link
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings, load_agent_settings

if TYPE_CHECKING:
    from device_agent.agent import Agent

__all__ = [
    "ActionOutcome",
    "Agent",
    "AgentSettings",
    "Clock",
    "DeviceEvent",
    "Hal",
    "Link",
    "Outbox",
    "ReportsEvents",
    "ScaledClock",
    "SystemClock",
    "UnknownAction",
    "load_agent_settings",
]


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from device_agent.agent import Agent

        return Agent
    raise AttributeError(f"module 'device_agent' has no attribute {name!r}")
