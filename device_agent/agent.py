"""The device agent: samples the HAL, keeps what it must send in a durable outbox, and
keeps an MQTT session to the cloud alive on an asyncio loop.

No thread per device: thousands of agents can share one event loop (the simulator does),
and a real product runs one on its own loop. Telemetry, command results and events leave
the outbox only when the cloud acknowledges that it stored them, so a broker or cloud
crash costs a resend, never a message. Every command ends in exactly one reported
terminal state, even when the link drops while it runs. A clean stop says goodbye: the
device shows offline at once instead of staying "online" until someone notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Mapping

import aiomqtt

from device_agent import contract
from device_agent.clock import Clock
from device_agent.command_auth import CommandAuthenticator, SqliteNonceLedger, load_public_key
from device_agent.commands import CommandRunner
from device_agent.contract import Channel, DiagnosticBundle, Scalar
from device_agent.diagnostics import COLLECT_DIAGNOSTICS, Diagnostics
from device_agent.enrolment import CredentialStore, Enrolment, tls_parameters
from device_agent.hal import Hal, ReportsEvents
from device_agent.link import Link
from device_agent.outbox import InvalidReading, Outbox, ReportKind
from device_agent.provisioning import IssuedCredentials, ProvisioningFailed
from device_agent.selfcheck import (
    FACTS_EVENT,
    FIRST_BOOT,
    RESET,
    RESET_ACTIONS,
    SELF_CHECK_EVENT,
    facts_detail,
    self_check_detail,
)
from device_agent.settings import AgentSettings, BrokerAddress, parse_broker_url
from device_agent.stats import AgentStats
from device_agent.uplink import Uplink
from device_agent.watchdog import Watchdog, WatchdogRule

log = logging.getLogger("aftercare.agent")

GOODBYE_TIMEOUT_S = 2.0
"""How long a clean stop waits for the broker to take the "offline" status."""


def backoff_delay_s(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter, so a fleet that lost its broker does
    not reconnect in lockstep."""
    ceiling = min(max_s, min_s * (2 ** min(attempt, 30)))
    return rng.uniform(min_s, max(min_s, ceiling))


class _LinkDown(Exception):
    """The device's :class:`Link` reported the network gone."""


class Agent:
    """One device's agent: ``run()`` until cancelled. ``link`` is how the product tells
    the agent its network is down (see :class:`Link`)."""

    def __init__(
        self,
        settings: AgentSettings,
        hal: Hal,
        clock: Clock,
        outbox: Outbox | None = None,
        rng: random.Random | None = None,
        link: Link | None = None,
    ) -> None:
        self.settings = settings
        self.hal = hal
        self.clock = clock
        self.outbox = outbox if outbox is not None else _durable_outbox(settings)
        self.stats = AgentStats()
        self.connected = asyncio.Event()
        self.link = link or Link()
        self.uplink = Uplink(settings, self.outbox, self.stats)
        self._sampling = True
        self._rng = rng or random.Random()
        credentials = CredentialStore(self.outbox.path)
        stored = credentials.load()
        self.diagnostics = Diagnostics(
            settings.device_id,
            hal,
            clock,
            settings.model_dump(mode="json"),
            self._send_bundle,
        )
        self._commands = CommandRunner(
            settings.device_id,
            hal,
            clock,
            settings.command_timeout_s,
            self._report_result,
            _authenticator(settings, clock, self.outbox.path, stored),
            self._report_attempt,
            self._after_action,
            {COLLECT_DIAGNOSTICS: self.diagnostics.collect},
        )
        self.enrolment = Enrolment(settings, credentials, self._pin_provisioned_key)
        self._tasks: asyncio.TaskGroup | None = None
        self._stopping = False
        self.watchdog = Watchdog(_watchdog_rules(settings))
        self._failed_reads = 0
        self._last_session_s = clock.now()

    @property
    def device_id(self) -> str:
        return self.settings.device_id

    async def run(self) -> None:
        """Sample and stay connected until cancelled. On first boot (no self-check run
        in the state file yet) the device checks itself first, for setup."""
        self._stopping = False
        if self.outbox.counter(SELF_CHECK_RUNS) == 0:
            self.check_setup(FIRST_BOOT)
        self.diagnostics.attach()
        try:
            await self._run_tasks()
        finally:
            self.diagnostics.detach()

    async def _run_tasks(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            tasks.create_task(self._sample_forever())
            tasks.create_task(self._connect_forever())
            if self.settings.watchdog:
                tasks.create_task(self._watch_forever())
            try:
                await asyncio.Event().wait()  # a stop (cancellation) arrives here first...
            except asyncio.CancelledError:
                self._stopping = True  # ...so the session knows it is a stop, not a loss
                raise

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking samples and wait until the cloud has acknowledged everything in the
        outbox: the first half of a graceful shutdown (before a reboot or an update).
        Returns whether the outbox emptied within ``timeout_s``; sampling stays stopped."""
        self._sampling = False
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.outbox) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return len(self.outbox) == 0

    def report_event(
        self, kind: str, detail: Mapping[str, Scalar] | None = None, ts: float | None = None
    ) -> str:
        """Tell the cloud something the device did or learned on its own (a local
        self-heal, a setup fact, a failed part); kept durably until the cloud has stored
        it. ``ts`` is when it happened (default: now). Returns the event id. Raises
        ContractError for a kind or detail the wire refuses."""
        event = contract.Event(
            device_id=self.device_id,
            event_id=uuid.uuid4().hex,
            kind=kind,
            ts=self.clock.now() if ts is None else ts,
            detail=dict(detail or {}),
        )
        self._keep_report("event", event.event_id, contract.encode(event))
        return event.event_id

    def check_setup(self, trigger: str = RESET) -> list[str]:
        """Report the device's facts and its self-checks (a HAL without ``self_checks``
        reports facts only) as setup events, durably. The agent calls it on first boot
        and after a reset action; a product calls it when the device was reset some
        other way (a button). Quick and non-blocking; returns the event ids."""
        reported: list[str] = []
        details = [(FACTS_EVENT, facts_detail(self.hal, trigger))]
        checks = self_check_detail(self.hal, trigger)
        if checks is not None:
            details.append((SELF_CHECK_EVENT, checks))
        for kind, detail in details:
            try:
                reported.append(self.report_event(kind, detail))
            except ValueError as exc:  # a fact or check name the wire refuses
                self.stats.setup_report_errors += 1
                log.warning("device=%s %s not reported: %s", self.device_id, kind, exc)
        self.outbox.set_counter(SELF_CHECK_RUNS, self.outbox.counter(SELF_CHECK_RUNS) + 1)
        return reported

    def _after_action(self, action: str) -> None:
        if action in RESET_ACTIONS:
            self.check_setup(RESET)

    def sample_once(self) -> None:
        """Read the HAL once into the outbox; a failing read or a reading the contract
        refuses is counted with its reason, never fatal and never queued."""
        try:
            metrics = self.hal.read_metrics()
            now = self.clock.now()
            self.outbox.append(now, metrics)
            self.diagnostics.telemetry.add(now, metrics)
        except InvalidReading as exc:
            self._sample_error(f"reading refused: {exc.reason}")
            return
        except Exception as exc:
            self._failed_reads += 1
            self._sample_error(f"read_metrics failed: {type(exc).__name__}: {exc}")
            log.exception("device=%s read_metrics failed", self.device_id)
            return
        self._failed_reads = 0
        self.stats.samples_taken += 1
        self._report_hal_events()

    def _report_hal_events(self) -> None:
        """Report what a HAL that notices things on its own (``ReportsEvents``) noticed
        since the last reading; one the wire refuses is counted and logged, not lost
        silently, and never stops sampling."""
        if not isinstance(self.hal, ReportsEvents):
            return
        for event in self.hal.take_events():
            try:
                self.report_event(event.kind, event.detail, event.ts)
            except ValueError as exc:
                self.stats.event_report_errors += 1
                log.warning("device=%s event %s not reported: %s", self.device_id, event.kind, exc)

    def symptoms(self) -> dict[str, bool]:
        """What the watchdog's rules look at, measured now."""
        now = self.clock.now()
        if self.connected.is_set():
            self._last_session_s = now
        settings = self.settings
        return {
            "dead_link": now - self._last_session_s >= settings.watchdog_dead_link_s,
            "hung_sensors": self._failed_reads >= settings.watchdog_hung_reads,
            "full_outbox": len(self.outbox) >= 0.9 * settings.outbox_max_samples,
        }

    async def heal_locally(self) -> list[str]:
        """Run the watchdog once: carry out what fires and report it (durably, so it
        reaches the cloud once the link is back). Returns the events reported."""
        reported = []
        for firing in self.watchdog.check(self.clock.now(), self.symptoms()):
            detail = dict(firing.detail)
            if firing.action == ROTATE_OUTBOX:
                detail["dropped"] = self.outbox.thin_oldest()
            elif firing.action is not None:
                detail.update(await self._run_locally(firing.action))
            log.warning("device=%s local self-heal %s %s", self.device_id, firing.event, detail)
            detail = {"rule": firing.rule, **detail}
            self.diagnostics.self_heal.record(self.clock.now(), firing.event, detail)
            reported.append(self.report_event(firing.event, detail))
            self.stats.local_heals += firing.action is not None
        return reported

    async def _run_locally(self, action: str) -> dict[str, Scalar]:
        try:
            async with asyncio.timeout(self.settings.command_timeout_s):
                outcome = await self.hal.run_action(action, {})
        except Exception as exc:
            return {"ok": False, "outcome": f"{type(exc).__name__}: {exc}"[:200]}
        if outcome.ok:
            self._after_action(action)
        return {"ok": outcome.ok, "outcome": outcome.detail[:200]}

    async def _watch_forever(self) -> None:
        while True:
            await self.clock.sleep(self.settings.telemetry_interval_s)
            try:
                await self.heal_locally()
            except Exception:
                log.exception("device=%s local self-heal failed", self.device_id)

    def _sample_error(self, reason: str) -> None:
        self.stats.sample_errors += 1
        self.stats.last_sample_error = reason
        log.warning("device=%s sample error: %s", self.device_id, reason)

    def _report_attempt(self, command_id: str, reason: str) -> None:
        """A command message refused as not authentic (forged, tampered, stolen from
        another device, replayed, retained): the service team should know."""
        self.stats.refused_commands += 1
        self.report_event("command.refused", {"command_id": command_id, "reason": reason})

    def _send_bundle(self, bundle: DiagnosticBundle) -> None:
        """Diagnostics travel like results: durably, until the cloud has stored them."""
        self._keep_report("diagnostics", bundle.bundle_id, contract.encode(bundle))

    def _report_result(self, result: contract.CommandResult) -> None:
        self._keep_report("result", result.command_id, contract.encode(result))

    def _keep_report(self, kind: ReportKind, report_id: str, payload: bytes) -> None:
        """Durably, then sent at once: a command result that waits for the next flush
        keeps the cloud's fix timeout running (and, on a fast clock, runs it out)."""
        self.outbox.add_report(kind, report_id, payload)
        self.uplink.report_waiting()

    async def _sample_forever(self) -> None:
        interval_s = self.settings.telemetry_interval_s
        next_at = self.clock.now()
        while True:
            if self._sampling:
                self.sample_once()
            next_at += interval_s
            await self.clock.sleep(next_at - self.clock.now())

    async def _connect_forever(self) -> None:
        address = parse_broker_url(self.settings.mqtt_url)
        attempt = 0
        while True:
            await self.link.wait_up()
            connects_before = self.stats.connects
            try:
                await self._session(address, await self.enrolment.login(address))
            except* ProvisioningFailed as failed:
                self.stats.session_errors += 1
                log.warning(
                    "device=%s provisioning failed: %s", self.device_id, failed.exceptions[0]
                )
            except* (aiomqtt.MqttError, _LinkDown, OSError) as lost:
                log.info("device=%s session ended: %s", self.device_id, lost.exceptions[0])
            except* Exception:
                # A bug must not take the device offline for good: report it, reconnect.
                self.stats.session_errors += 1
                log.exception("device=%s session failed unexpectedly", self.device_id)
            finally:
                self.connected.clear()
            if self._stopping:
                # However the session ended (a failed goodbye, an error raised while it
                # was being cancelled), a stop must not turn into a reconnect.
                raise asyncio.CancelledError
            if self.stats.connects > connects_before:
                attempt = 0
            delay_s = backoff_delay_s(
                attempt, self.settings.reconnect_min_s, self.settings.reconnect_max_s, self._rng
            )
            attempt += 1
            await asyncio.sleep(delay_s)

    def _pin_provisioned_key(self, key_text: str) -> None:
        if self.settings.command_key is None:  # a key set by hand wins
            self._commands.authenticator.public_key = load_public_key(key_text)

    def _status_payload(self, online: bool) -> bytes:
        status = contract.Status(
            device_id=self.device_id,
            online=online,
            ts=self.clock.now(),
            model=self.hal.model,
            firmware=self.hal.firmware,
        )
        return contract.encode(status)

    async def _session(self, address: BrokerAddress, login: tuple[str | None, str | None]) -> None:
        host, port = address.host, address.port
        will = aiomqtt.Will(
            contract.topic(self.device_id, Channel.STATUS),
            self._status_payload(online=False),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(
            host,
            port,
            identifier=self.device_id,
            will=will,
            clean_session=False,
            keepalive=self.settings.keepalive_s,
            timeout=10,
            username=login[0],
            password=login[1],
            tls_params=tls_parameters(self.settings, address),
        )
        try:
            await self._run_session(client, host, port)
        except aiomqtt.MqttError as exc:
            self.enrolment.connect_failed(exc)
            raise
        finally:
            # aiomqtt records an unexpected disconnection on a private future that nobody
            # awaits once the session is over; consume it so asyncio does not log it as
            # "never retrieved" (the loss itself was already handled and logged).
            lost = client._disconnected
            if lost.done() and not lost.cancelled():
                lost.exception()

    async def _run_session(self, client: aiomqtt.Client, host: str, port: int) -> None:
        status_topic = contract.topic(self.device_id, Channel.STATUS)
        async with client:
            await client.subscribe(contract.topic(self.device_id, Channel.COMMANDS), qos=1)
            await client.subscribe(contract.topic(self.device_id, Channel.ACK), qos=1)
            await client.publish(status_topic, self._status_payload(online=True), 1, True)
            if self._stopping:  # the subscribes and publish above may have dropped the stop
                raise asyncio.CancelledError
            self.stats.connects += 1
            self.uplink.new_session()
            self.connected.set()
            log.info("device=%s connected to %s:%s", self.device_id, host, port)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self.uplink.publish_forever(client))
                    tasks.create_task(self._receive_forever(client))
                    tasks.create_task(self._watch_link(client))
            finally:
                if self._stopping:
                    # A clean stop says goodbye: a clean DISCONNECT drops the Last Will.
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                            offline = self._status_payload(online=False)
                            await client.publish(status_topic, offline, 1, True)

    async def _watch_link(self, client: aiomqtt.Client) -> None:
        """A lost link sends no DISCONNECT: cut the socket so the broker sees what it
        would see on a real radio loss, and publishes the Last Will."""
        await self.link.wait_down()
        sock = client._client.socket()  # aiomqtt keeps its paho client private
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise _LinkDown("link down")

    async def _receive_forever(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            decoded = self._accept(message)
            if isinstance(decoded, contract.TelemetryAck):
                if not self.uplink.accept_ack(decoded):
                    self._refuse(message, "acknowledges what this agent never sent")
            elif isinstance(decoded, contract.SignedCommand) and self._tasks is not None:
                self.stats.commands_handled += 1
                # beside the session, so a link drop does not cancel it before it reports
                self._tasks.create_task(self._commands.handle(decoded))

    def _accept(self, message: aiomqtt.Message) -> contract.Message | None:
        """The decoded message, or None for one the agent must not act on: retained
        (a stale or planted command or ack replays on every connect) or invalid. A
        retained command is reported refused, so the cloud learns why it never ran."""
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            self._refuse(message, "not binary")
            return None
        try:
            decoded = contract.decode(str(message.topic), bytes(payload))
        except contract.ContractError as exc:
            self._refuse(message, "retained" if message.retain else exc.reason)
            return None
        if message.retain:
            self._refuse(message, "retained")
            if isinstance(decoded, contract.SignedCommand):
                self._report_attempt(
                    decoded.command_id, "retained: a stored command would replay on every connect"
                )
            return None
        return decoded

    def _refuse(self, message: aiomqtt.Message, reason: str) -> None:
        self.stats.refused_messages += 1
        log.warning("device=%s ignored message on %s: %s", self.device_id, message.topic, reason)


ROTATE_OUTBOX = "rotate_outbox"
SELF_CHECK_RUNS = "self_check_runs"
"""The state file's count of self-check runs: 0 means this is the device's first boot."""


def _watchdog_rules(settings: AgentSettings) -> tuple[WatchdogRule, ...]:
    cooldown, breaker = settings.watchdog_cooldown_s, settings.watchdog_breaker_after
    return (
        WatchdogRule("dead_link", "reset_radio", cooldown, breaker),
        WatchdogRule("hung_sensors", "restart_firmware", cooldown, breaker),
        WatchdogRule("full_outbox", ROTATE_OUTBOX, cooldown, breaker),
    )


def _authenticator(
    settings: AgentSettings, clock: Clock, state_file: str, provisioned: IssuedCredentials | None
) -> CommandAuthenticator:
    """Commands are checked against the pinned key (the settings' if set, else the one
    provisioning delivered); accepted nonces are kept in the agent's state file (the
    outbox's), so a restart does not forget them."""
    text = settings.command_key or (provisioned.command_key if provisioned else None)
    key = load_public_key(text) if text else None
    return CommandAuthenticator(
        settings.device_id, key, SqliteNonceLedger(state_file, clock), clock
    )


def _durable_outbox(settings: AgentSettings) -> Outbox:
    """The outbox file the settings name, in the agent's state directory by default."""
    path = settings.resolved_outbox_path()
    if path != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    return Outbox(path, settings.outbox_max_samples, settings.outbox_max_reports)
