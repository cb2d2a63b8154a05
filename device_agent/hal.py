"""The hardware abstraction the agent drives.

A real product implements :class:`Hal` with its drivers; ``firmware_sim`` implements it
with simulated physics, so the simulator exercises the real agent end to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from device_agent.contract import Scalar


@dataclass(frozen=True)
class ActionOutcome:
    """What running an action on the device did. ``ok`` is the device's own word; the
    cloud still checks recovery in the telemetry."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class DeviceEvent:
    """Something the device noticed on its own (a part failed), at device time ``ts``,
    for the agent to report as an event of ``kind``."""

    kind: str
    ts: float
    detail: Mapping[str, Scalar]


class UnknownAction(Exception):
    """The device has no such action; the agent reports the command as refused."""


class Hal(Protocol):
    """What the agent needs from the device it runs on."""

    @property
    def model(self) -> str:
        """The product model, e.g. ``heatpump-hp200``: selects profiles and playbooks."""
        ...

    @property
    def firmware(self) -> str: ...

    def read_metrics(self) -> dict[str, float]:
        """Current readings, metric name -> value. Called once per telemetry interval."""
        ...

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        """Carry out a named action (restart a service, recalibrate...). Raises
        UnknownAction when the device does not have it."""
        ...

    def facts(self) -> dict[str, Scalar]:
        """Static facts for setup and support: serial number, hardware revision..."""
        ...


@runtime_checkable
class SelfChecking(Protocol):
    """A HAL that can check itself, beside :class:`Hal` (optional: a HAL without it
    reports its facts only). The agent runs it on first boot and after every reset and
    reports the results; the cloud ticks the setup steps they verify."""

    def self_checks(self) -> Mapping[str, tuple[bool, str]]:
        """Check name (``network``, ``firmware_current``, ``sensor_selftest``,
        ``calibration``, ``placement``...) -> (passed, reason when not). Called on the
        agent's loop, so it must be quick: a long test runs in the product's own task and
        this returns its latest outcome."""
        ...


@runtime_checkable
class ReportsEvents(Protocol):
    """A HAL that notices things on its own, beside :class:`Hal` (optional): a part that
    failed, a door opened. The agent takes them after every reading and reports them
    durably, each once, with the device time they happened."""

    def take_events(self) -> list[DeviceEvent]:
        """The events since the last call, oldest first; each is returned only once."""
        ...


@runtime_checkable
class Configurable(Protocol):
    """A HAL that can show its configuration (optional, beside :class:`Hal`): what a
    support bundle includes. It may hold secrets (a Wi-Fi key, an API key) and personal
    data (an installer's e-mail, a precise location): the agent redacts the bundle
    before it leaves the device, so the HAL need not."""

    def config(self) -> Mapping[str, Scalar]:
        """Setting name -> value, as the device runs with it now."""
        ...
