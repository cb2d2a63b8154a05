"""A broker, the cloud and a simulated fleet in one process, on one shared clock, for a
manufacturer's tests: ``async with LocalStack(StackOptions(devices=4)) as stack:``.

Device time runs ``speed`` times faster than real time for the devices and the cloud's
timers alike (one :class:`ScaledClock`), so verification windows and detectors see the
same hours the devices lived. Waits take real seconds and read the HTTP API, as the
manufacturer's own tooling would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from asyncio import FIRST_COMPLETED
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cloud.app import CloudService
from cloud.harness.broker import LocalBroker, local_broker
from cloud.harness.identities import register_boxes, register_fleet
from cloud.harness.options import StackOptions
from cloud.harness.waiting import Incident, matching, not_met, verified_fix
from cloud.heal.signing import CommandSigner
from cloud.planning.wear import RunSource
from cloud.settings import CloudSettings
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.faults import Fault
from firmware_sim.fleet import Fleet, FleetSpec
from firmware_sim.models import MODELS
from firmware_sim.scenario_plan import real_time_pace

POLL_S = 0.25
"""Real seconds between two looks at the API while waiting."""
STOP_TIMEOUT_S = 30.0


class StackNotRunning(RuntimeError):
    """The stack was used outside its ``async with`` block."""


class LocalStack:
    """Starts on enter, stops (every task cancelled and awaited) on exit."""

    def __init__(
        self,
        options: StackOptions | None = None,
        clock: ScaledClock | None = None,
        *,
        cloud_overrides: Mapping[str, Any] | None = None,
        wear_runs: RunSource | None = None,
    ) -> None:
        """``clock``: device time shared with what else runs beside the stack (a scenario
        runner's fleet); a new one at ``options.speed`` when None. ``cloud_overrides``:
        cloud settings by field name, over the stack's own (a ValidationError names a
        bad one when the stack starts); ``wear_runs``: run-to-failure histories the
        cloud's remaining-life models learn from."""
        self.cloud_overrides = dict(cloud_overrides or {})
        self.wear_runs = wear_runs
        self.options = options or StackOptions()
        self.clock = clock or ScaledClock(SystemClock().now(), self.options.speed)
        self._stack = contextlib.AsyncExitStack()
        self._cloud: CloudService | None = None
        self._fleet: Fleet | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._serving: asyncio.Task[None] | None = None
        self._broker: LocalBroker | None = None
        self._settings_used: CloudSettings | None = None
        self._restarting = asyncio.Lock()
        self.service_token = ""

    async def __aenter__(self) -> LocalStack:
        async with contextlib.AsyncExitStack() as stack:
            folder = self.options.folder
            if folder is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aftercare-")))
            folder.mkdir(parents=True, exist_ok=True)
            broker = stack.enter_context(local_broker(self.options.broker, folder))
            self._broker = broker
            settings = self._settings(broker, folder)
            self._settings_used = settings
            spec = self._fleet_spec(broker, settings)
            cloud = CloudService(settings, self.clock, wear_runs=self.wear_runs)
            await cloud.__aenter__()
            self._cloud = cloud
            stack.push_async_callback(self._close_cloud)
            stack.push_async_callback(self._stop_tasks)
            if spec is not None and broker.provisioning:
                secrets = await asyncio.to_thread(register_fleet, cloud.repos.factory, spec)
                spec = dataclasses.replace(spec, device_secrets=secrets)
                if broker.bootstrap is not None:
                    spec = dataclasses.replace(
                        spec,
                        bootstrap_username=broker.bootstrap.username,
                        bootstrap_password=broker.bootstrap.password,
                    )
            await self._start(cloud, spec)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
        self._cloud = None

    def _settings(self, broker: LocalBroker, folder: Path) -> CloudSettings:
        own = dict(
            broker.cloud_settings(),
            http_host="127.0.0.1",
            http_port=self.options.http_port,
            model_dir=str(folder / "models"),
            command_key_path=str(folder / "command_key.pem"),
            database_url=self.options.database_url or f"sqlite:///{folder / 'aftercare.db'}",
        )
        return CloudSettings.model_validate({**own, **self.cloud_overrides})

    def _fleet_spec(self, broker: LocalBroker, settings: CloudSettings) -> FleetSpec | None:
        if self.options.devices == 0:
            return None
        key = CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text
        pace_s = real_time_pace(self.options.telemetry_interval_s, self.options.speed)
        return FleetSpec(
            devices=self.options.devices,
            mqtt_url=broker.url,
            models=list(self.options.models or sorted(MODELS)),
            seed=self.options.seed,
            telemetry_interval_s=self.options.telemetry_interval_s,
            flush_interval_s=min(0.5, pace_s),
            pace_s=pace_s,
            ack_timeout_s=2.0,
            reconnect_max_s=1.0,
            fault_rate_per_device_day=self.options.fault_rate_per_device_day,
            command_key=key,  # the simulated devices pin this cloud's key
        )

    async def _close_cloud(self) -> None:
        cloud, self._cloud = self._cloud, None
        if cloud is not None:
            await cloud.__aexit__(None, None, None)

    async def _start(self, cloud: CloudService, spec: FleetSpec | None) -> None:
        """HTTP bound, ingest connected and every device connected and listed, or
        TimeoutError."""
        timeout_s = self.options.start_timeout_s
        await self._serve(cloud)
        self.service_token = cloud.repos.tokens.issue("service", label="aftercare test harness")
        if spec is not None:
            self._fleet = Fleet(spec, self.clock)
            self._tasks.append(asyncio.create_task(self._fleet.run(), name="aftercare-fleet"))
            await self._fleet.wait_connected(timeout_s)
            await self._wait_listed(timeout_s)

    async def _serve(self, cloud: CloudService) -> None:
        """HTTP bound and ingest connected, or TimeoutError."""
        timeout_s = self.options.start_timeout_s
        started = asyncio.Event()
        serving = asyncio.create_task(cloud.serve(started), name="aftercare-http")
        self._tasks.insert(0, serving)  # stopped last: after the fleet's goodbyes
        bound = asyncio.create_task(started.wait())
        await asyncio.wait({serving, bound}, timeout=timeout_s, return_when=FIRST_COMPLETED)
        bound.cancel()
        if serving.done():
            self._tasks.remove(serving)  # ended: its reason is raised here, not when stopping
            serving.result()  # a port in use...
            raise RuntimeError("the cloud's HTTP server stopped while starting")
        if not started.is_set():
            raise TimeoutError(f"the cloud's HTTP server did not start in {timeout_s:g} s")
        self._serving = serving
        if not await asyncio.to_thread(cloud.ingest.wait_connected, timeout_s):
            raise TimeoutError(f"the cloud's ingest did not reach the broker in {timeout_s:g} s")

    async def restart_broker(self, down_s: float) -> None:
        """The broker down (every session lost) for ``down_s`` of device time, then back
        on the same port; devices and the cloud reconnect on their own."""
        broker = self._broker
        if broker is None or broker.stop is None or broker.start is None:
            raise StackNotRunning("this stack has no broker of its own to restart")
        async with self._restarting:
            await asyncio.to_thread(broker.stop)
            await self.clock.sleep(down_s)
            await asyncio.to_thread(broker.start)

    async def restart_cloud(self, down_s: float) -> None:
        """The cloud stopped (HTTP, ingest, every worker) for ``down_s`` of device time,
        then a new one on the same database and HTTP port, so the API URL and tokens
        stay good; devices keep unacknowledged samples and send them again."""
        cloud, settings = self.cloud, self._settings_used
        assert settings is not None  # set with the cloud
        async with self._restarting:
            port = cloud.http_port
            serving = self._serving
            if serving is not None:
                self._tasks.remove(serving)
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
            await self._close_cloud()
            await self.clock.sleep(down_s)
            settings = settings.model_copy(update={"http_port": port})
            self._settings_used = settings
            cloud = CloudService(settings, self.clock, wear_runs=self.wear_runs)
            await cloud.__aenter__()
            self._cloud = cloud
            await self._serve(cloud)

    async def box_codes(self, identities: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Register ``(model, device_id)`` in this cloud's factory registry, a batch per
        model as a factory would, and return each box's claim code (a scenario's
        simulated owners claim with them). Devices registered before keep their record
        and have no code to give: ValueError names them."""
        return await asyncio.to_thread(register_boxes, self.cloud.repos.factory, identities)

    @property
    def mqtt_url(self) -> str:
        """The broker's ``mqtt://127.0.0.1:PORT``."""
        if self._broker is None:
            raise StackNotRunning("the stack is not running: use it inside `async with`")
        return self._broker.url

    async def _wait_listed(self, timeout_s: float) -> None:
        """Until the API lists every device (its first telemetry is stored), so a test
        may ask for any device's telemetry or incidents from its first line on."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = set(self.device_ids) - {d["id"] for d in await self.get("/devices")}
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(missing)} devices sent no telemetry in {timeout_s:g} s: "
                    f"{sorted(missing)[:5]}"
                )
            await asyncio.sleep(POLL_S)

    async def _stop_tasks(self) -> None:
        """The fleet first (its goodbyes reach a cloud still listening), then HTTP; every
        task is stopped before the first failure among them is raised."""
        failures: list[str] = []
        for task in reversed(self._tasks):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
            if not done:
                failures.append(f"{task.get_name()} still runs {STOP_TIMEOUT_S:g} s after cancel")
            elif not task.cancelled() and task.exception() is not None:
                failures.append(f"{task.get_name()} failed: {task.exception()!r}")
        self._tasks.clear()
        if self._fleet is not None:
            self._fleet.close()
        if failures:
            raise RuntimeError("the stack did not stop cleanly: " + "; ".join(failures))

    @property
    def cloud(self) -> CloudService:
        if self._cloud is None:
            raise StackNotRunning("the stack is not running: use it inside `async with`")
        return self._cloud

    @property
    def fleet(self) -> Fleet:
        if self._fleet is None:
            raise StackNotRunning("this stack has no fleet: give it devices=1 or more")
        return self._fleet

    @property
    def api(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        return f"http://127.0.0.1:{self.cloud.http_port}/api/v1"

    @property
    def device_ids(self) -> list[str]:
        return self.fleet.device_ids if self._fleet is not None else []

    def device_time(self) -> float:
        """Now on the shared clock (epoch seconds of device time)."""
        return self.clock.now()

    def inject(
        self,
        device_id: str,
        signature: str,
        magnitude: float = 1.0,
        duration_s: float | None = None,
    ) -> Fault:
        """A fault (``overheat/compressor``, ``sensor-stuck/supply_temp_c``...) on one
        device from now on; ``duration_s`` of device time, None until a fix clears it."""
        fault = Fault.from_signature(signature, self.clock.now(), duration_s, magnitude)
        self.fleet.inject(device_id, fault)
        return fault

    async def get(self, path: str, **query: str) -> Any:
        """``GET {api}{path}`` with the service token; the JSON it answered."""
        url = self.api + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return await asyncio.to_thread(_get_json, url, self.service_token)

    async def incidents(
        self, signature: str | None = None, device_id: str | None = None
    ) -> list[Incident]:
        """Every incident the API lists, or those with this signature / on this device."""
        return matching(await self.get("/incidents"), signature, device_id)

    async def wait_for_incident(
        self, signature: str, device_id: str | None = None, timeout_s: float = 30.0
    ) -> Incident:
        """The first incident with ``signature`` (on ``device_id``) the API lists within
        ``timeout_s`` real seconds; else ExpectationNotMet listing what there was."""
        return await self._wait("incident", signature, device_id, timeout_s, lambda i: True)

    async def wait_for_verified_fix(
        self, signature: str | None = None, device_id: str | None = None, timeout_s: float = 60.0
    ) -> Incident:
        """The first incident a fix resolved and the telemetry verified (a fix attempt with
        ``verified`` true), within ``timeout_s`` real seconds."""

        def healed(incident: Incident) -> bool:
            return incident["status"] == "resolved" and verified_fix(incident) is not None

        return await self._wait("verified fix of", signature, device_id, timeout_s, healed)

    async def _wait(
        self,
        what: str,
        signature: str | None,
        device_id: str | None,
        timeout_s: float,
        wanted: Any,
    ) -> Incident:
        started, started_s = time.monotonic(), self.clock.now()
        while True:
            every = await self.get("/incidents")
            found = [i for i in matching(every, signature, device_id) if wanted(i)]
            if found:
                return found[0]
            if time.monotonic() - started >= timeout_s:
                device_s = self.clock.now() - started_s
                raise not_met(what, signature, device_id, timeout_s, device_s, every)
            await asyncio.sleep(POLL_S)


class ApiError(RuntimeError):
    """The cloud's API answered a harness request with an error; the message carries
    its status and ``detail``."""


def _get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:500]
        raise ApiError(f"GET {url} answered {error.code}: {detail}") from None
