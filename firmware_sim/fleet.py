"""Composition root of a simulated fleet: N simulated devices, each driven by a real
:class:`device_agent.Agent` with its own MQTT session, client id and outbox, all on one
asyncio loop.

Seeded and reproducible: the same spec gives the same device ids, models, physics and
faults. A device whose simulated radio is down has its agent's link cut, so the real
agent's reconnect and outbox logic is what gets exercised.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from device_agent.agent import Agent
from device_agent.clock import Clock
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from firmware_sim.fault_plan import plan_faults
from firmware_sim.faults import Fault
from firmware_sim.models import MODELS, Environment, SimulatedDevice
from firmware_sim.models.registry import model_class
from firmware_sim.wearout import LifeSpread, plan_wear_out

log = logging.getLogger("aftercare.sim")

LINK_POLL_S = 1.0
ID_PREFIX = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31})?")


@dataclass(frozen=True)
class FleetSpec:
    """What to simulate. Device ids are ``{id_prefix}{model}-{index:05d}``, ``model``
    being the id the device reports. ``models`` takes whatever the model registry
    resolves: built-in ids, entry point names, ``package.module:ClassName``."""

    devices: int
    mqtt_url: str
    models: Sequence[str] = field(default_factory=lambda: sorted(MODELS))
    seed: int = 1
    telemetry_interval_s: float = 5.0
    flush_interval_s: float = 2.0
    ack_timeout_s: float = 10.0
    pace_s: float = LINK_POLL_S
    """Real seconds over which the agents' starts are spread, and between two looks at
    the devices' links (outages begin and end at this pace)."""
    outbox_max_samples: int = 100_000
    reconnect_max_s: float = 30.0
    fault_rate_per_device_day: float = 0.0
    """Occasional faults drawn with :func:`plan_faults` (0 = a healthy fleet)."""
    faults_after_s: float = 3 * 3600.0
    """Device time before the first fault, so detectors have learned what normal is."""
    fault_horizon_s: float = 30 * 86_400.0
    command_key: str | None = None
    """The cloud's public command key the simulated devices pin (none: they refuse
    every command, as a real device without a pinned key would)."""
    device_secrets: Mapping[str, str] = field(default_factory=dict)
    """Factory secrets by device id: a device with one provisions itself (with the
    bootstrap credential) instead of connecting anonymously."""
    bootstrap_username: str | None = None
    bootstrap_password: str | None = None
    setup_failure_share: float = 0.0
    """Share of devices installed badly: each fails one of its model's setup self-checks
    (``SETUP_FAILURES``: a charger without earth...), drawn reproducibly from the seed."""
    wear_out_share: float = 0.0
    """Share of devices whose wearing part (connector, compressor) starts wearing out
    within a day after ``faults_after_s`` and fails after a time from ``wear_out_life``
    (reporting ``part_failed``); opt-in, never part of the random fault plan."""
    wear_out_life: LifeSpread = field(default_factory=LifeSpread)
    wear_out_magnitude: float = 1.0
    environment: Environment | None = None
    """Opt-in realism (weather fronts, holidays, a firmware rollout, mid-run installs),
    e.g. from :func:`firmware_sim.models.plan_environment`; None: a quiet world."""
    id_prefix: str = ""
    """Put before every device id, so a test fleet on a shared cloud (``lab-``) never
    takes the ids, broker sessions or telemetry sequence of another fleet's devices."""
    firmware_versions: Mapping[str, str] = field(default_factory=dict)
    """Firmware a device reports, by device id (the model's own version otherwise)."""

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ValueError("a fleet needs at least one device")
        if not 0.0 <= self.setup_failure_share <= 1.0:
            raise ValueError(
                f"setup_failure_share must lie in [0, 1], not {self.setup_failure_share}"
            )
        if not 0.0 <= self.wear_out_share <= 1.0:
            raise ValueError(f"wear_out_share must lie in [0, 1], not {self.wear_out_share}")
        if not ID_PREFIX.fullmatch(self.id_prefix):
            raise ValueError(
                f"id_prefix {self.id_prefix!r} must start with a letter or digit and hold "
                "only letters, digits, '_', '.' and '-' (32 at most)"
            )
        if not self.models:
            raise ValueError("a fleet needs at least one device model")
        for name in dict.fromkeys(self.models):
            model_class(name)  # a DeviceModelError (a ValueError) says what is wrong

    def identities(self) -> list[tuple[str, str]]:
        """(model id, device id) of every device, in fleet order; the model id is what
        the device reports (a dotted path's class's ``MODEL``)."""
        return [(model, device_id) for _, model, device_id in self.placements()]

    def placements(self) -> list[tuple[str, str, str]]:
        """(model name as given in ``models``, model id, device id) of every device, in
        fleet order: the name is what builds the device, the id what it reports."""
        ids = {name: model_class(name).MODEL for name in dict.fromkeys(self.models)}
        return [
            (name, ids[name], f"{self.id_prefix}{ids[name]}-{index:05d}")
            for index in range(self.devices)
            for name in [self.models[index % len(self.models)]]
        ]


@dataclass
class SimulatedUnit:
    """One device and the agent running on it."""

    device: SimulatedDevice
    agent: Agent


class Fleet:
    """Build with a spec and a clock; ``await run()`` until cancelled."""

    def __init__(self, spec: FleetSpec, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self.units: list[SimulatedUnit] = []
        self._outages: list[tuple[frozenset[str], float, float]] = []
        placements = spec.placements()
        classes = {name: model_class(name) for name, _, _ in placements}
        names = {device_id: name for name, _, device_id in placements}
        for name, _, device_id in placements:
            device = classes[name](device_id, clock, spec.seed, spec.environment)
            settings = AgentSettings(
                device_id=device_id,
                mqtt_url=spec.mqtt_url,
                telemetry_interval_s=spec.telemetry_interval_s,
                flush_interval_s=spec.flush_interval_s,
                ack_timeout_s=spec.ack_timeout_s,
                outbox_max_samples=spec.outbox_max_samples,
                reconnect_max_s=spec.reconnect_max_s,
                command_key=spec.command_key,
                device_secret=spec.device_secrets.get(device_id),
                bootstrap_username=spec.bootstrap_username,
                bootstrap_password=spec.bootstrap_password,
            )
            if device_id in spec.firmware_versions:
                device.ship_with_firmware(spec.firmware_versions[device_id])
            outbox = Outbox(":memory:", spec.outbox_max_samples)
            rng = random.Random(f"{spec.seed}/{device_id}")
            self.units.append(SimulatedUnit(device, Agent(settings, device, clock, outbox, rng)))

        self._install_some_badly(spec.setup_failure_share, random.Random(f"{spec.seed}/setup"))
        if spec.fault_rate_per_device_day > 0:
            plan = plan_faults(
                self.device_ids,
                names,
                rng_seed=spec.seed,
                start_s=clock.now() + spec.faults_after_s,
                duration_s=spec.fault_horizon_s,
                rate_per_device_day=spec.fault_rate_per_device_day,
            )
            for device_id, faults in plan.items():
                for fault in faults:
                    self.inject(device_id, fault)
        if spec.wear_out_share > 0:
            wear = plan_wear_out(
                self.device_ids,
                names,
                seed=spec.seed,
                start_s=clock.now() + spec.faults_after_s,
                share=spec.wear_out_share,
                spread=spec.wear_out_life,
                magnitude=spec.wear_out_magnitude,
            )
            for device_id, fault in wear.items():
                self.inject(device_id, fault)

    def _install_some_badly(self, share: float, rng: random.Random) -> None:
        for unit in self.units:
            if rng.random() < share:
                device = unit.device
                unit.device.install_badly(
                    rng.choice(sorted(device.SETUP_FAILURES) or ["placement"])
                )

    @property
    def device_ids(self) -> list[str]:
        return [unit.agent.device_id for unit in self.units]

    def unit(self, device_id: str) -> SimulatedUnit:
        for unit in self.units:
            if unit.agent.device_id == device_id:
                return unit
        raise KeyError(f"no simulated device {device_id!r}")

    def inject(self, device_id: str, fault: Fault) -> None:
        self.unit(device_id).device.inject(fault)

    async def run(self) -> None:
        """Run every agent, spreading their starts over ``pace_s`` so a big fleet does
        not connect in one burst."""
        async with asyncio.TaskGroup() as tasks:
            for index, unit in enumerate(self.units):
                delay_s = self.spec.pace_s * index / max(1, len(self.units))
                tasks.create_task(self._run_unit(unit, delay_s))
            tasks.create_task(self._follow_links())

    async def _run_unit(self, unit: SimulatedUnit, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        while not unit.device.installed():  # a mid-run install: no agent until then
            await asyncio.sleep(self.spec.pace_s)
        await unit.agent.run()

    def cut_network(self, device_ids: Sequence[str], start_s: float, end_s: float) -> None:
        """The devices lose their network from ``start_s`` to ``end_s`` (device time): an
        outage outside the device, so their agents lose the broker as on a radio loss and
        keep sampling into their outboxes. Followed at ``pace_s`` (real time)."""
        for device_id in device_ids:
            self.unit(device_id)  # raises KeyError for a device not in the fleet
        self._outages.append((frozenset(device_ids), start_s, end_s))

    def _network_down(self, device_id: str, now: float) -> bool:
        return any(device_id in ids and start <= now < end for ids, start, end in self._outages)

    async def _follow_links(self) -> None:
        while True:
            now = self.clock.now()
            for unit in self.units:
                down = self._network_down(unit.agent.device_id, now)
                unit.agent.link.set(unit.device.link_up() and not down)
            await asyncio.sleep(self.spec.pace_s)

    async def wait_connected(self, timeout_s: float) -> None:
        """Until every agent has a session; raises TimeoutError naming the stragglers."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(u.agent.connected.wait() for u in self.units)), timeout_s
            )
        except TimeoutError:
            missing = [u.agent.device_id for u in self.units if not u.agent.connected.is_set()]
            raise TimeoutError(f"{len(missing)} agents not connected: {missing[:5]}") from None

    async def drain(self, timeout_s: float) -> None:
        """Stop every agent's sampling and wait (at most ``timeout_s``) until the cloud
        has acknowledged what their outboxes hold."""
        await asyncio.gather(*(unit.agent.drain(timeout_s) for unit in self.units))

    def unacknowledged(self) -> int:
        """Samples still waiting in outboxes for the cloud's acknowledgement."""
        return sum(len(unit.agent.outbox) for unit in self.units)

    def close(self) -> None:
        for unit in self.units:
            unit.agent.outbox.close()
