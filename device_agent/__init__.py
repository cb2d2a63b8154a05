"""The Aftercare device agent: what a product integrator needs, and nothing else."""

from device_agent.agent import Agent
from device_agent.clock import Clock, ScaledClock, SystemClock
from device_agent.hal import ActionOutcome, Hal, UnknownAction
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings, load_agent_settings

__all__ = [
    "ActionOutcome",
    "Agent",
    "AgentSettings",
    "Clock",
    "Hal",
    "Outbox",
    "ScaledClock",
    "SystemClock",
    "UnknownAction",
    "load_agent_settings",
]
