"""``aftercare demo``: a broker, the cloud on SQLite and a simulated fleet in one process.

Zero set-up: an embedded broker unless ``AFTERCARE_MQTT_URL`` names one, a SQLite file in
the output (or a temporary) folder unless ``AFTERCARE_DATABASE_URL`` names a database.
Tokens are random per run and written to ``DIR/demo.json`` with ``--out DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cloud.harness.broker import BrokerKind, LocalBroker, LocalBrokerError, local_broker
from cloud.settings import BrokerLogin
from device_agent.settings import ENV_PREFIX

if TYPE_CHECKING:
    from cloud.app import CloudService
    from cloud.db.factory import FactoryRegistry
    from firmware_sim.fleet import Fleet

OWNER_ID = "demo-owner"
FIRST_FAULT = "overheat/compressor"
FIRST_FAULT_MODEL = "heatpump-hp200"
ESCALATING_FAULT = "connectivity/flapping"
ESCALATING_FAULT_MODEL = "evcharger-ec11"
OWNED_DEVICES = 3
UNCLAIMED_DEVICES = {"heatpump-hp200": 2, "evcharger-ec11": 1}
"""Factory-fresh devices the demo registers and leaves in their boxes, waiting to be claimed."""
DEMO_OWNER_EMAIL = "owner@demo.example"
HOUR_S = 3600.0
DEMO_OUTREACH: dict[str, Any] = {
    "planning_poll_s": 2.0,
    "outreach_poll_s": 1.0,
    "feedback_delay_s": 600.0,
    "outreach_lead_time_s": 1.5 * HOUR_S,
    "outreach_arrange_s": 0.5 * HOUR_S,
    "rul_period_s": 600.0,
    "rul_interval_s": 600.0,
    "rul_window_s": 2 * 86_400.0,
    "rul_quick_search": True,
}
"""Outreach on the demo's clock: wear is judged in 10-minute periods (device time) and a
part is raised once its pessimistic failure is within two device hours."""


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="broker + cloud + simulated fleet in one process")
    demo.add_argument("--devices", type=int, default=20, help="simulated devices (default 20)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080, 0=any)")
    demo.add_argument("--duration", type=_positive_float, help="stop after S seconds")
    demo.add_argument("--out", type=Path, help="folder for demo.json and the SQLite file")
    demo.add_argument("--seed", type=int, default=1, help="seed of the simulated fleet")
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=60.0,
        help="device time per real second (default 60: an hour of device life a minute)",
    )
    demo.add_argument(
        "--broker",
        choices=["embedded", "mosquitto"],
        default="embedded",
        help="embedded (default: zero set-up, enforces no logins or ACLs) or mosquitto "
        "(a Mosquitto child with dynamic security: per-device logins and topics)",
    )
    demo.add_argument(
        "--faults-per-day",
        type=float,
        default=2.0,
        help="occasional faults per device per device-day (default 2; 0 = healthy)",
    )
    demo.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        devices=args.devices,
        port=args.port,
        duration_s=args.duration,
        out=args.out,
        seed=args.seed,
        speed=args.speed,
        fault_rate_per_device_day=args.faults_per_day,
        broker=args.broker,
    )
    return asyncio.run(run_demo(options))


@dataclass(frozen=True)
class DemoOptions:
    devices: int = 20
    port: int = 8080
    duration_s: float | None = None
    out: Path | None = None
    seed: int = 1
    speed: float = 60.0
    """Device time per real second: detectors learn a device in its first simulated hours
    and faults come after those, so the demo shows incidents within minutes."""
    fault_rate_per_device_day: float = 2.0
    first_fault_after_s: float = 60.0
    """Device time before the demo's first fault, a badly overheating compressor on the
    last heat pump: the rated limit names it without any learned baseline, so the
    incident table fills within the first minute instead of after the detectors' first
    simulated hours."""
    telemetry_interval_s: float = 60.0
    broker: Literal["embedded", "mosquitto"] = "embedded"
    setup_failure_share: float = 0.2
    """Devices installed badly (a charger without earth...): they fail a setup
    self-check, so setup help, support items and the funnel have something to show."""


DemoBrokerError = LocalBrokerError
"""The broker the demo was asked for cannot be had; the message says why."""


@contextlib.contextmanager
def _demo_broker(kind: BrokerKind, folder: Path) -> Iterator[LocalBroker]:
    """The broker ``AFTERCARE_MQTT_URL`` names (devices connect as they are), else the
    embedded one (no logins or ACLs, said in the banner; devices still provision), or
    with ``--broker mosquitto`` a Mosquitto child with dynamic security."""
    configured = os.environ.get(ENV_PREFIX + "MQTT_URL")
    if configured and kind == "mosquitto":
        raise DemoBrokerError(
            f"--broker mosquitto starts its own broker; unset {ENV_PREFIX}MQTT_URL to use it"
        )
    with local_broker(kind, folder, configured, announce=_announce) as broker:
        yield broker


def _announce(message: str) -> None:
    print(message, flush=True)


def _register_unclaimed(registry: FactoryRegistry) -> list[dict[str, str]]:
    """A small manufacturing batch per model, imported and left unclaimed (no agent
    runs for them: they are still in their boxes). Returns ``{device_id, claim_code}``
    for demo.json, so a user can claim one in the owner app."""
    from cloud.identity import FactoryBatch
    from firmware_sim.factory import generate_batch

    unclaimed = []
    for model, count in UNCLAIMED_DEVICES.items():
        batch = generate_batch(model, count)
        registry.import_batch(FactoryBatch.model_validate_json(batch.to_json()))
        unclaimed += [{"device_id": d.device_id, "claim_code": d.claim_code} for d in batch.devices]
    return unclaimed


async def run_demo(options: DemoOptions) -> int:
    """Run until Ctrl-C, SIGTERM or ``duration_s``; returns the exit code."""
    from cloud.app import CloudService, PortInUse, bind_http_socket
    from cloud.cli.demo_wear import reliability_lab
    from cloud.harness.identities import register_fleet
    from cloud.heal.signing import CommandSigner
    from cloud.settings import CloudSettings
    from device_agent.clock import ScaledClock, SystemClock
    from firmware_sim.fleet import Fleet, FleetSpec

    if options.port:  # a taken port is told before the broker starts: nothing to wind down
        bind_http_socket(CloudSettings.model_fields["http_host"].default, options.port).close()
    with contextlib.ExitStack() as stack:
        folder = options.out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        broker = stack.enter_context(_demo_broker(options.broker, folder))
        mqtt_url = broker.url
        settings = CloudSettings.model_validate(
            dict(
                broker.cloud_settings(),
                http_port=options.port,
                model_dir=str(folder / "models"),
                command_key_path=str(folder / "command_key.pem"),
                database_url=os.environ.get(
                    ENV_PREFIX + "DATABASE_URL", f"sqlite:///{folder / 'aftercare-demo.db'}"
                ),
                **DEMO_OUTREACH,
            )
        )
        clock = ScaledClock(SystemClock().now(), options.speed)
        signer = CommandSigner.load_or_create(Path(settings.command_key_path))
        spec = FleetSpec(
            devices=options.devices,
            mqtt_url=mqtt_url,
            seed=options.seed,
            telemetry_interval_s=options.telemetry_interval_s,
            flush_interval_s=1.0,
            fault_rate_per_device_day=options.fault_rate_per_device_day,
            setup_failure_share=options.setup_failure_share,
            command_key=signer.public_key_text,  # the simulated devices pin the demo's key
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            async with CloudService(settings, clock, wear_runs=reliability_lab()) as cloud:
                if broker.provisioning:
                    identities = await asyncio.to_thread(register_fleet, cloud.repos.factory, spec)
                    boot = broker.bootstrap or BrokerLogin()
                    spec = dataclasses.replace(
                        spec,
                        device_secrets=identities,
                        bootstrap_username=boot.username,
                        bootstrap_password=boot.password,
                    )
                fleet = Fleet(spec, clock)
                if options.fault_rate_per_device_day > 0:
                    _inject_showcase(fleet, clock.now() + options.first_fault_after_s)
                    _wear_one_out(fleet, clock.now())
                try:
                    await _serve_fleet(cloud, fleet, options, folder, stop)
                finally:
                    fleet.close()
        except* PortInUse as taken:
            raise taken.exceptions[0] from None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    print("demo stopped", flush=True)
    return 0


def _inject_showcase(fleet: Fleet, start_s: float) -> None:
    """The faults the demo's first minutes show: a badly overheating compressor (named by
    its rated limit at once, healed by a fix the telemetry verifies) and a charger of the
    demo owner's whose radio is broken (no remote fix works: it is escalated with every
    attempt attached, and the owner is offered a visit)."""
    from firmware_sim.faults import Fault

    heat_pumps = [d for d in fleet.device_ids if d.startswith(FIRST_FAULT_MODEL)]
    owned = fleet.device_ids[:OWNED_DEVICES]
    chargers = sorted(
        (d for d in fleet.device_ids if d.startswith(ESCALATING_FAULT_MODEL)),
        key=lambda d: d in owned,
    )  # the demo owner's charger last: the owner app shows what happens after a handover
    if heat_pumps:
        fleet.inject(heat_pumps[-1], Fault.from_signature(FIRST_FAULT, start_s, magnitude=3.0))
    if chargers:
        broken = Fault.from_signature(ESCALATING_FAULT, start_s + 60.0, magnitude=2.0)
        fleet.inject(chargers[-1], dataclasses.replace(broken, remote_fix=False))


def _wear_one_out(fleet: Fleet, start_s: float) -> None:
    """The demo owner's heat pump has a compressor wearing out: it fails three device
    hours in, and the owner hears of it before it does."""
    from cloud.cli.demo_wear import WEAR_MODEL, demo_wear_out

    owned = [d for d in fleet.device_ids[:OWNED_DEVICES] if d.startswith(WEAR_MODEL)]
    if owned:
        fleet.inject(owned[0], demo_wear_out(start_s))


def _owner_terms(cloud: CloudService) -> None:
    """The demo owner may be reached at any hour, without a cap (device time runs 60
    times faster than their day); by email too when ``AFTERCARE_SMTP_URL`` is set."""
    from cloud.outreach.preferences import ContactWindow, FrequencyCap, OwnerPreferences

    email = cloud.settings.smtp_url and DEMO_OWNER_EMAIL
    terms = OwnerPreferences(
        email=email or None,
        windows=(ContactWindow(start="00:00", end="23:59"),),
        quiet_hours=None,
        cap=FrequencyCap(per_day=None, per_week=None),
        preferred_channel="email" if email else None,
    )
    cloud.repos.outreach.set_preferences(OWNER_ID, terms)


def _install_one_badly(fleet: Fleet, owned: list[str]) -> None:
    """The demo owner's charger has no earth: its setup shows the placement step failed
    with help, whatever the seed drew. Runs before the agents boot (their first
    self-check sees it)."""
    chargers = [d for d in owned if d.startswith("evcharger-")]
    if chargers:
        fleet.unit(chargers[0]).device.install_badly("placement")


async def _serve_fleet(
    cloud: CloudService,
    fleet: Fleet,
    options: DemoOptions,
    folder: Path,
    stop: asyncio.Event,
) -> None:
    service_token = cloud.repos.tokens.issue("service", label="demo service team")
    owner_token = cloud.repos.tokens.issue("owner", owner_id=OWNER_ID, label="demo owner")
    manufacturer_token = cloud.repos.tokens.issue("manufacturer", label="demo manufacturer")
    owned = fleet.device_ids[:OWNED_DEVICES]
    for device_id in owned:
        cloud.repos.telemetry.set_owner(device_id, OWNER_ID)
    _owner_terms(cloud)
    _install_one_badly(fleet, owned)
    unclaimed = await asyncio.to_thread(_register_unclaimed, cloud.repos.factory)
    started = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        serving = tasks.create_task(cloud.serve(started))
        running = tasks.create_task(fleet.run())
        await started.wait()
        api = f"http://{cloud.settings.http_host}:{cloud.http_port}/api/v1"
        root = api.removesuffix("/api/v1")
        dashboard_url = f"{root}/#token={service_token}"
        app_url = f"{root}/app#token={owner_token}"
        manufacturer_url = f"{root}/manufacturer#token={manufacturer_token}"
        if options.out is not None:
            demo_json = {
                "api": api,
                "service_token": service_token,
                "owner_token": owner_token,
                "owner_device_ids": owned,
                "mqtt_url": fleet.spec.mqtt_url,
                "unclaimed": unclaimed,
                "dashboard_url": dashboard_url,
                "app_url": app_url,
                "manufacturer_token": manufacturer_token,
            }
            (folder / "demo.json").write_text(json.dumps(demo_json, indent=2) + "\n")
        print(f"dashboard: {dashboard_url}", flush=True)
        print(f"owner app: {app_url}", flush=True)
        print(f"manufacturer: {manufacturer_url}", flush=True)
        print(f"API:       {api}  (OpenAPI: {root}/docs)", flush=True)
        print(f"service token: {service_token}", flush=True)
        print(f"owner token:   {owner_token}  (owns {', '.join(owned)})", flush=True)
        codes = ", ".join(f"{d['device_id']} {d['claim_code']}" for d in unclaimed)
        print(f"unclaimed, in their boxes: {codes}", flush=True)
        print(
            f"{len(fleet.device_ids)} simulated devices reporting, device time x"
            f"{options.speed:g}; incidents at {api}/incidents; Ctrl-C stops",
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), options.duration_s)
        running.cancel()
        serving.cancel()
