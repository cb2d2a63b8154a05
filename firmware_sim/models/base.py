"""What every simulated device shares: clock-driven integration, faults, actions, firmware.

A model subclass supplies its physics (:meth:`SimulatedDevice._step` integrates state over
a time interval, :meth:`SimulatedDevice._physics_readings` measures it) and its own
actions; this base class owns the rest, so fault effects and remedies are identical across
models. Everything is driven by ``clock.now()``: state advances on a fixed grid of
simulated time (``STEP_S``, aligned to the epoch), never per call, so the physics per
simulated second is the same whether the device is read every second or every ten minutes.
Readings are deterministic given (device id, seed, environment) and the sequence of ``now``
values; the opt-in :class:`~firmware_sim.models.environment.Environment` (fronts, holidays,
a firmware rollout, a mid-run install) is None unless a caller asks for it.

Not thread-safe: one device belongs to one agent on one event loop.
"""

from __future__ import annotations

import asyncio
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from device_agent.clock import Clock
from device_agent.contract import Scalar
from device_agent.hal import ActionOutcome, DeviceEvent, UnknownAction
from firmware_sim.faults import (
    SENSOR_KINDS,
    WORSEN_FACTOR,
    Fault,
    FaultKind,
    FaultNotApplicable,
    FaultWindow,
    remedy_for,
)
from firmware_sim.models.config import installed_config
from firmware_sim.models.environment import Environment, Holiday
from firmware_sim.models.firmware import FirmwareState, flapping_link_down
from firmware_sim.models.setup import CHECKS, GENERIC_FAILURES, device_self_checks
from firmware_sim.models.signals import derive_key, local_day, unit
from firmware_sim.models.wear import WearParts

OVERHEAT_RAMP_S = 1_800.0
"""An overheat fault builds up to its full magnitude over this long (fouling, leaks)."""
SPIKE_SLOT_S = 10.0
SPIKE_PROBABILITY = 0.12
"""A spiking sensor glitches in about this share of 10 s slots (a few per 10 minutes of
one-minute telemetry)."""


@dataclass(frozen=True)
class MetricSpec:
    """What a metric means: unit, the sane range a healthy device stays in, and ``scale``,
    a typical significant deviation that sizes drift (scale per hour) and spikes."""

    unit: str
    low: float
    high: float
    scale: float


FIRMWARE_METRICS: Mapping[str, MetricSpec] = {
    "mem_free_kb": MetricSpec("KiB", 0.0, 4096.0, 50.0),
    "cpu_load_pct": MetricSpec("%", 0.0, 100.0, 5.0),
    "rssi_dbm": MetricSpec("dBm", -120.0, -20.0, 3.0),
    "uptime_s": MetricSpec("s", 0.0, 1.0e9, 600.0),
}


class NotInstalled(RuntimeError):
    """The device is read before its installation time (a mid-run install): it has no
    telemetry yet, so a runner must not ask for any."""


class ActionRefused(Exception):
    """An action's parameters do not make sense; the outcome is ok=False with this text."""


def number_param(
    params: Mapping[str, Scalar], name: str, default: float, low: float, high: float
) -> float:
    """A numeric action parameter within [low, high]; ``default`` when absent."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActionRefused(f"param {name!r} must be a number, not {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ActionRefused(f"param {name!r} must lie in [{low:g}, {high:g}], not {value!r}")
    return float(value)


ActionHandler = Callable[[float, Mapping[str, Scalar]], str]
"""Carries out an action at simulated time ``now`` and returns the device's detail text."""


@dataclass
class _FaultRecord:
    fault: Fault
    index: int
    cleared_s: float | None = None
    cleared_by: str | None = None
    frozen_value: float | None = None
    severity: float = 1.0
    """Grows when a wrong action makes the fault worse."""
    fix_tries: int = 0
    """Clearing actions tried on it so far (each draws its own chance of taking)."""
    failure_reported: bool = False
    """For a wear-out: its ``part_failed`` event has been handed to the agent."""

    @property
    def magnitude(self) -> float:
        return self.fault.magnitude * self.severity

    def active_at(self, t_s: float) -> bool:
        end = self.fault.end_s
        return (
            self.fault.start_s <= t_s
            and (end is None or t_s < end)
            and (self.cleared_s is None or t_s < self.cleared_s)
        )


class SimulatedDevice(ABC):
    """Base of every simulated model; implements the agent's ``Hal`` protocol."""

    MODEL: ClassVar[str]
    FIRMWARE: ClassVar[str]
    METRICS: ClassVar[Mapping[str, MetricSpec]]
    OVERHEAT_COMPONENT: ClassVar[str]
    WEAR_COMPONENT: ClassVar[str]
    """The part that wears out and fails (``wear-out/<component>``)."""
    FAULT_MENU: ClassVar[tuple[tuple[str, float], ...]]
    """Signatures this model typically suffers, with relative weights for plan_faults."""
    HEAP_KB: ClassVar[float]
    STEP_S: ClassVar[float] = 60.0
    SETUP_FAILURES: ClassVar[Mapping[str, str]] = {}
    """How a bad installation of this model shows in its self-checks: check -> reason
    (a charger without its earth, a heat pump whose flow temperature does not respond)."""

    def __init__(
        self, device_id: str, clock: Clock, seed: int, environment: Environment | None = None
    ) -> None:
        self._device_id = device_id
        self._clock = clock
        self._seed = seed
        self._key = derive_key(seed, device_id, self.MODEL)
        self._rng = random.Random(self._key)
        self._last_s = clock.now()
        self._faults: list[_FaultRecord] = []
        self._wear_parts = WearParts(self._key)
        self._firmware = FirmwareState(
            key=self._key,
            heap_kb=self.HEAP_KB,
            baseline_free_kb=self.HEAP_KB * self._rng.uniform(0.45, 0.6),
            boot_s=self._last_s - self._rng.uniform(3_600.0, 30 * 86_400.0),
            rssi_base_dbm=self._rng.uniform(-75.0, -52.0),
        )
        self._environment = environment
        self._shipped_firmware: str | None = None
        self._bad_installation: dict[str, str] = {}
        self._config = installed_config(
            device_id, self.MODEL, random.Random(derive_key(seed, device_id, "config"))
        )
        self._installed_s, self._new_unit = self._install(environment)
        self._update_s = None if environment is None else environment.update_at(device_id)
        self._updated = False
        if self._update_s is not None and self._update_s <= self._last_s:
            self._apply_update(reboot=False)  # shipped with the new version

    # -- Hal ----------------------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def model(self) -> str:
        return self.MODEL

    @property
    def firmware(self) -> str:
        """The version string, with the rollout's suffix once an update has reached it."""
        shipped = self._shipped_firmware or self.FIRMWARE
        if self._updated and self._environment is not None:
            update = self._environment.firmware_update
            return shipped + (update.version_suffix if update else "")
        return shipped

    def ship_with_firmware(self, version: str) -> None:
        """Report ``version`` instead of the model's own (a scenario's fleet on an older
        or newer release); the simulated behaviour stays the model's."""
        self._shipped_firmware = version

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def installed_s(self) -> float | None:
        """When a mid-run install starts reporting; None for a device in service all along."""
        return self._installed_s

    def installed(self) -> bool:
        """Whether the device exists at ``clock.now()`` (always, unless installed mid-run)."""
        return self._installed_s is None or self._clock.now() >= self._installed_s

    def read_metrics(self) -> dict[str, float]:
        """Current readings as the device's sensors report them (faults included); raises
        NotInstalled before a mid-run install, when there is no device to read."""
        if not self.installed():
            raise NotInstalled(f"{self._device_id} is installed at {self._installed_s}")
        now = self._advance()
        values = self._physics_readings(now)
        values.update(self._firmware_readings(now))
        return self._through_sensors(now, values)

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        """Run ``action``. ``ok`` is the device's word that it did what was asked; whether
        that fixed anything only shows in later telemetry. Faults the action addresses
        (per :data:`firmware_sim.faults.REMEDIES`) end now."""
        now = self._advance()
        handlers = self._handlers()
        if action not in handlers:
            known = ", ".join(sorted(handlers))
            raise UnknownAction(f"{self.MODEL} has no action {action!r}; it knows: {known}")
        try:
            detail = handlers[action](now, params)
        except ActionRefused as refused:
            return ActionOutcome(ok=False, detail=str(refused))
        self._clear_addressed(now, action, params)
        await asyncio.sleep(0)
        return ActionOutcome(ok=True, detail=detail)

    def facts(self) -> dict[str, Scalar]:
        """Static facts for setup and support; stable per (device id, seed)."""
        return {
            "serial_number": f"{self.MODEL.split('-')[-1].upper()}-{self._key:016X}"[:20],
            "model": self.MODEL,
            "firmware": self.FIRMWARE,
            "simulated": True,
            **self._model_facts(),
        }

    def config(self) -> dict[str, Scalar]:
        """The installer's configuration (``device_agent.hal.Configurable``), secrets
        and personal data included, as a real product's would be."""
        return dict(self._config)

    def configure(self, **values: Scalar) -> None:
        """Change configuration values (an installer, or a test planting a secret)."""
        self._config.update(values)

    def self_checks(self) -> dict[str, tuple[bool, str]]:
        """The agent's setup self-checks (``device_agent.hal.SelfChecking``), from the
        simulated state at ``clock.now()``."""
        return device_self_checks(
            self.link_up(),
            self.firmware,
            self.FIRMWARE,
            self.active_faults(),
            self._bad_installation,
        )

    def install_badly(self, check: str) -> None:
        """Make the installation fail ``check`` (with the model's reason) until
        :meth:`fix_installation`: what the demo and setup tests show help for."""
        if check not in CHECKS:
            raise ValueError(f"no self-check {check!r}; checks: {', '.join(CHECKS)}")
        self._bad_installation[check] = self.SETUP_FAILURES.get(check, GENERIC_FAILURES[check])

    def fix_installation(self) -> None:
        """The installer put it right; the next self-check run (after a reset) passes."""
        self._bad_installation.clear()

    # -- faults -------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Schedule ``fault``. Effects that build up over time (heat, leaked heap) start
        accumulating from whichever is later, the fault's start or the present."""
        if fault.kind in SENSOR_KINDS and fault.target not in self.METRICS:
            known = ", ".join(sorted(self.METRICS))
            raise FaultNotApplicable(
                f"{self.MODEL} has no metric {fault.target!r} for {fault.signature}; "
                f"metrics: {known}"
            )
        if fault.kind is FaultKind.OVERHEAT and fault.target != self.OVERHEAT_COMPONENT:
            raise FaultNotApplicable(
                f"{self.MODEL} has no {fault.target}; it can overheat its "
                f"{self.OVERHEAT_COMPONENT} (overheat/{self.OVERHEAT_COMPONENT})"
            )
        if fault.kind is FaultKind.WEAR_OUT and fault.target != self.WEAR_COMPONENT:
            raise FaultNotApplicable(
                f"{self.MODEL} has no {fault.target} that wears out; its wearing part is "
                f"the {self.WEAR_COMPONENT} (wear-out/{self.WEAR_COMPONENT})"
            )
        record = _FaultRecord(fault, len(self._faults))
        self._faults.append(record)
        if fault.kind is FaultKind.WEAR_OUT:
            self._wear_parts.add(record)

    def take_events(self) -> list[DeviceEvent]:
        """What the device noticed on its own up to ``clock.now()`` (``ReportsEvents``):
        a ``part_failed`` event, once, stamped with the moment the part gave out."""
        if not self.installed():
            return []
        return self._wear_parts.due_failures(self.MODEL, self._advance())

    def active_faults(self) -> list[Fault]:
        """Faults in effect at ``clock.now()``, in injection order."""
        now = self._clock.now()
        return [r.fault for r in self._faults if r.active_at(now)]

    def link_up(self) -> bool:
        """False while the radio is down: during a flapping fault's down slots and for a
        short while after a watchdog reboot. The fleet runner disconnects the agent then.
        Before a mid-run install there is no radio at all."""
        if not self.installed():
            return False
        now = self._advance()
        if self._firmware.rebooting(now):
            return False
        return not any(
            flapping_link_down(self._key, r.index, r.fault.start_s, now, r.magnitude)
            for r in self._active(FaultKind.CONNECTIVITY, now)
        )

    @property
    def fault_log(self) -> list[FaultWindow]:
        """Ground-truth windows of every injected fault, in injection order."""
        return [self._window(r) for r in self._faults]

    @property
    def crash_count(self) -> int:
        """Watchdog reboots so far (memory exhaustion)."""
        self._advance()
        return self._firmware.crashes

    # -- for subclasses -------------------------------------------------------------------

    @abstractmethod
    def _step(self, t0_s: float, t1_s: float) -> None:
        """Integrate the model's physical state from t0 to t1 (at most ``STEP_S`` apart)."""

    @abstractmethod
    def _physics_readings(self, now_s: float) -> dict[str, float]:
        """True values of the model's own metrics at ``now_s``, with measurement noise."""

    @abstractmethod
    def _cpu_activity_pct(self, now_s: float) -> float:
        """CPU load from the product's own work (control loops, metering)."""

    @abstractmethod
    def _model_handlers(self) -> dict[str, ActionHandler]:
        """The model's own actions, beside the firmware actions every model has."""

    @abstractmethod
    def _model_facts(self) -> dict[str, Scalar]:
        """Facts only this model has (capacity, connector type...)."""

    def _severity(self, kind: FaultKind, t_s: float) -> float:
        """Summed magnitude of the active faults of ``kind`` at ``t_s``; overheats ramp up
        over ``OVERHEAT_RAMP_S`` since they come from slowly worsening causes."""
        total = 0.0
        for record in self._active(kind, t_s):
            ramp = 1.0
            if kind is FaultKind.OVERHEAT:
                ramp = min(1.0, (t_s - record.fault.start_s) / OVERHEAT_RAMP_S)
            total += record.magnitude * ramp
        return total

    def _wear(self, t_s: float) -> float:
        """Wear level of the model's wearing part at ``t_s`` (0 new, about the fault's
        magnitude at failure); see :mod:`firmware_sim.models.wear`."""
        return self._wear_parts.state_at(t_s)[0]

    def _part_failed(self, t_s: float) -> bool:
        """Whether the wearing part has given out (and not been replaced) by ``t_s``."""
        return self._wear_parts.state_at(t_s)[1]

    def _holiday(self, t_s: float, utc_offset_s: float) -> Holiday | None:
        """The holiday on the local day of ``t_s`` if the household is away then."""
        if self._environment is None or not self._environment.holidays:
            return None
        return self._environment.away(self._key, local_day(t_s, utc_offset_s))

    def _front_shift(self, t_s: float) -> float:
        """Outdoor temperature change from the environment's weather fronts at this site."""
        if self._environment is None:
            return 0.0
        return self._environment.front_offset_c(self._key, t_s)

    def _noise(self, sigma: float) -> float:
        return self._rng.gauss(0.0, sigma)

    # -- internals -------------------------------------------------------------------------

    def _install(self, environment: Environment | None) -> tuple[float | None, bool]:
        """A device installed after ``clock.now()`` is a brand-new unit: its state starts at
        the install time with a fresh boot. Returns (install time, whether new)."""
        install_s = None if environment is None else environment.install_at(self._device_id)
        if install_s is None or install_s <= self._last_s:
            return None, False
        self._last_s = install_s
        self._firmware.boot_s = install_s
        return install_s, True

    def _apply_update(self, reboot: bool) -> None:
        """The environment's firmware rollout reaches this device: new baselines for good
        (and a reboot, unless the unit shipped with the new version)."""
        update = None if self._environment is None else self._environment.firmware_update
        if update is None or self._update_s is None:
            return
        self._firmware.update(
            self._update_s, update.cpu_extra_pct, update.mem_free_shift, reboot=reboot
        )
        self._updated = True

    def _advance(self) -> float:
        """Bring the state up to ``clock.now()`` on the epoch-aligned grid; returns now.
        A clock that goes backwards leaves the state where it is."""
        now = self._clock.now()
        t = self._last_s
        while t < now:
            t_next = min(now, (math.floor(t / self.STEP_S) + 1) * self.STEP_S)
            if not self._updated and self._update_s is not None and self._update_s <= t_next:
                self._apply_update(reboot=True)
            leak = self._firmware.leak_rate_kb_per_s(self._severity(FaultKind.MEMORY_LEAK, t))
            self._firmware.step(t, t_next, leak)
            self._step(t, t_next)
            t = t_next
        self._last_s = max(self._last_s, now)
        return now

    def _active(self, kind: FaultKind, t_s: float) -> list[_FaultRecord]:
        return [r for r in self._faults if r.fault.kind is kind and r.active_at(t_s)]

    def _firmware_readings(self, now: float) -> dict[str, float]:
        flapping = self._severity(FaultKind.CONNECTIVITY, now)
        return {
            "mem_free_kb": self._firmware.mem_free_kb(now),
            "cpu_load_pct": self._firmware.cpu_load_pct(
                now, self._cpu_activity_pct(now), self._rng
            ),
            "rssi_dbm": self._firmware.rssi_dbm(now, flapping, self._rng),
            "uptime_s": self._firmware.uptime_s(now),
        }

    def _through_sensors(self, now: float, values: dict[str, float]) -> dict[str, float]:
        """Falsify readings as faulty sensors do: drift and spikes on top of the truth,
        then stuck sensors repeat the exact value they showed when they froze."""
        stuck: list[_FaultRecord] = []
        for record in self._faults:
            fault = record.fault
            if fault.kind not in SENSOR_KINDS or not record.active_at(now):
                continue
            scale = self.METRICS[fault.target].scale
            if fault.kind is FaultKind.SENSOR_DRIFT:
                values[fault.target] += record.magnitude * scale * (now - fault.start_s) / 3600.0
            elif fault.kind is FaultKind.SPIKE:
                values[fault.target] += self._spike(record, now) * scale
            else:
                stuck.append(record)
        for record in stuck:
            if record.frozen_value is None:
                record.frozen_value = values[record.fault.target]
            values[record.fault.target] = record.frozen_value
        return values

    def _spike(self, record: _FaultRecord, now: float) -> float:
        """Spike height in metric scales at ``now`` (0 outside a glitching slot)."""
        slot = math.floor((now - record.fault.start_s) / SPIKE_SLOT_S)
        if unit(self._key, record.index, slot, 0) >= SPIKE_PROBABILITY:
            return 0.0
        sign = 1.0 if unit(self._key, record.index, slot, 1) < 0.5 else -1.0
        height = 6.0 * (0.7 + 0.6 * unit(self._key, record.index, slot, 2))
        return sign * height * record.magnitude

    def _handlers(self) -> dict[str, ActionHandler]:
        return {
            "restart_firmware": self._restart_firmware,
            "recalibrate_sensor": self._recalibrate_sensor,
            "reset_radio": self._reset_radio,
            **self._model_handlers(),
        }

    def _restart_firmware(self, now: float, params: Mapping[str, Scalar]) -> str:
        self._firmware.restart(now)
        return "firmware restarted"

    def _recalibrate_sensor(self, now: float, params: Mapping[str, Scalar]) -> str:
        metric = params.get("metric")
        if not isinstance(metric, str) or metric not in self.METRICS:
            known = ", ".join(sorted(self.METRICS))
            raise ActionRefused(f"recalibrate_sensor needs param 'metric', one of: {known}")
        return f"sensor for {metric} recalibrated"

    def _reset_radio(self, now: float, params: Mapping[str, Scalar]) -> str:
        return "radio reset"

    def _clear_addressed(self, now: float, action: str, params: Mapping[str, Scalar]) -> None:
        """What ``action`` does to the active faults: a clearing action takes with its
        remedy's chance (a broken part needs a service visit whatever is tried), a wrong
        one that makes things worse raises the fault's severity, any other does nothing."""
        for record in self._faults:
            if not record.active_at(now):
                continue
            remedy = remedy_for(record.fault)
            if action in remedy.worsens:
                record.severity *= WORSEN_FACTOR
                continue
            if action not in remedy.clears:
                continue
            if action == "recalibrate_sensor" and params.get("metric") != record.fault.target:
                continue
            record.fix_tries += 1
            if action != "service_visit":
                if not record.fault.remote_fix:
                    continue
                if unit(self._key, record.index, record.fix_tries, 7) >= remedy.success:
                    continue
            record.cleared_s = now
            record.cleared_by = action
            self._wear_parts.invalidate()

    @staticmethod
    def _window(record: _FaultRecord) -> FaultWindow:
        fault = record.fault
        end = record.cleared_s if record.cleared_s is not None else fault.end_s
        return FaultWindow(
            fault=fault,
            kind=fault.kind,
            signature=fault.signature,
            start_s=fault.start_s,
            end_s=end,
            cleared_by=record.cleared_by,
            failure_s=fault.failure_s,
        )
