"""The device agent: samples the HAL, keeps telemetry in a durable outbox, and keeps an
MQTT session to the cloud alive on an asyncio loop.

No thread per device: thousands of agents can share one event loop (the simulator does),
and a real product runs one on its own loop. Telemetry leaves the outbox only when the
cloud acknowledges that it is stored, so a broker or cloud crash costs a resend, never a
sample. Every command ends in exactly one reported terminal state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections import deque
from dataclasses import dataclass

import aiomqtt

from device_agent import contract
from device_agent.clock import Clock
from device_agent.commands import CommandRunner
from device_agent.contract import Channel
from device_agent.hal import Hal
from device_agent.link import Link
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings, parse_mqtt_url

log = logging.getLogger("aftercare.agent")


def backoff_delay_s(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter, so a fleet that lost its broker does
    not reconnect in lockstep."""
    ceiling = min(max_s, min_s * (2 ** min(attempt, 30)))
    return rng.uniform(min_s, max(min_s, ceiling))


@dataclass
class AgentStats:
    """Counters a product can report or a test can assert on."""

    samples_taken: int = 0
    sample_errors: int = 0
    batches_sent: int = 0
    resends: int = 0
    connects: int = 0
    commands_handled: int = 0
    session_errors: int = 0


@dataclass(frozen=True)
class _InFlight:
    """A sent batch awaiting its acknowledgement: seqs ``first..last`` (``count`` samples,
    possibly with gaps), sent at ``sent_at`` on the event loop's clock."""

    first: int
    last: int
    count: int
    sent_at: float


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
        self.outbox = (
            outbox
            if outbox is not None
            else Outbox(settings.outbox_path, settings.outbox_max_samples)
        )
        self.stats = AgentStats()
        self.connected = asyncio.Event()
        self.link = link or Link()
        self._sampling = True
        self._rng = rng or random.Random()
        self._sent_upto = -1
        self._in_flight: deque[_InFlight] = deque()
        self._commands = CommandRunner(settings.device_id, hal, clock, settings.command_timeout_s)

    @property
    def device_id(self) -> str:
        return self.settings.device_id

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking samples and wait until the cloud has acknowledged everything in the
        outbox: the first half of a graceful shutdown (before a reboot or an update).
        Returns whether the outbox emptied within ``timeout_s``; sampling stays stopped."""
        self._sampling = False
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.outbox) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return len(self.outbox) == 0

    async def run(self) -> None:
        """Sample and stay connected until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._sample_forever())
            tasks.create_task(self._connect_forever())

    def sample_once(self) -> None:
        """Read the HAL once into the outbox; a failing read is counted, never fatal."""
        try:
            metrics = self.hal.read_metrics()
        except Exception:
            self.stats.sample_errors += 1
            log.exception("device=%s read_metrics failed", self.device_id)
            return
        self.outbox.append(self.clock.now(), metrics)
        self.stats.samples_taken += 1

    async def _sample_forever(self) -> None:
        interval_s = self.settings.telemetry_interval_s
        next_at = self.clock.now()
        while True:
            if self._sampling:
                self.sample_once()
            next_at += interval_s
            await self.clock.sleep(next_at - self.clock.now())

    async def _connect_forever(self) -> None:
        host, port = parse_mqtt_url(self.settings.mqtt_url)
        attempt = 0
        while True:
            await self.link.wait_up()
            connects_before = self.stats.connects
            try:
                await self._session(host, port)
            except* (aiomqtt.MqttError, _LinkDown, OSError) as lost:
                log.info("device=%s session ended: %s", self.device_id, lost.exceptions[0])
            except* Exception:
                # A bug must not take the device offline for good: report it, reconnect.
                self.stats.session_errors += 1
                log.exception("device=%s session failed unexpectedly", self.device_id)
            finally:
                self.connected.clear()
            if self.stats.connects > connects_before:
                attempt = 0
            delay_s = backoff_delay_s(
                attempt, self.settings.reconnect_min_s, self.settings.reconnect_max_s, self._rng
            )
            attempt += 1
            await asyncio.sleep(delay_s)

    def _status_payload(self, online: bool) -> bytes:
        status = contract.Status(
            device_id=self.device_id,
            online=online,
            ts=self.clock.now(),
            model=self.hal.model,
            firmware=self.hal.firmware,
        )
        return contract.encode(status)

    async def _session(self, host: str, port: int) -> None:
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
        )
        try:
            await self._run_session(client, host, port)
        finally:
            # aiomqtt records an unexpected disconnection on a private future that nobody
            # awaits once the session is over; consume it so asyncio does not log it as
            # "never retrieved" (the loss itself was already handled and logged).
            lost = client._disconnected
            if lost.done() and not lost.cancelled():
                lost.exception()

    async def _run_session(self, client: aiomqtt.Client, host: str, port: int) -> None:
        async with client:
            await client.subscribe(contract.topic(self.device_id, Channel.COMMANDS), qos=1)
            await client.subscribe(contract.topic(self.device_id, Channel.ACK), qos=1)
            await client.publish(
                contract.topic(self.device_id, Channel.STATUS),
                self._status_payload(online=True),
                qos=1,
                retain=True,
            )
            self.stats.connects += 1
            self._sent_upto = -1  # a new session resends everything not yet acknowledged
            self._in_flight.clear()
            self.connected.set()
            log.info("device=%s connected to %s:%s", self.device_id, host, port)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._publish_forever(client))
                tasks.create_task(self._receive_forever(client, tasks))
                tasks.create_task(self._commands.flush_results(client))
                tasks.create_task(self._watch_link(client))

    async def _watch_link(self, client: aiomqtt.Client) -> None:
        """A lost link sends no DISCONNECT: cut the socket so the broker sees what it
        would see on a real radio loss, and publishes the Last Will."""
        await self.link.wait_down()
        sock = client._client.socket()  # aiomqtt keeps its paho client private
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise _LinkDown("link down")

    async def _publish_forever(self, client: aiomqtt.Client) -> None:
        """Send outbox samples in seq order, at most a window of unacknowledged ones at a
        time, and resend any batch whose samples are still unacknowledged ``ack_timeout_s``
        after it was sent, whatever happened to newer ones: a broker that dropped one
        batch (no subscriber yet after its restart, say) must not leave a hole until the
        window fills. Pacing is in real time: it is about the network, not the device."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        window = settings.batch_max_samples * 4
        while True:
            resent = await self._resend_overdue(client, loop.time() - settings.ack_timeout_s)
            oldest = self.outbox.pending(limit=1)
            in_flight = self._sent_upto - oldest[0].seq + 1 if oldest else 0
            room = min(settings.batch_max_samples, window - max(0, in_flight))
            batch = self.outbox.pending(self._sent_upto, room) if room > 0 else []
            if batch:
                await self._send(client, batch)
                self._sent_upto = batch[-1].seq
                if len(batch) == settings.batch_max_samples:
                    continue
            if not resent:
                await asyncio.sleep(settings.flush_interval_s)

    async def _resend_overdue(self, client: aiomqtt.Client, sent_before: float) -> bool:
        """Resend what is left unacknowledged of every batch sent before ``sent_before``;
        batches the cloud has acknowledged in full are forgotten. Returns whether any
        batch was resent."""
        resent = False
        while self._in_flight and self._in_flight[0].sent_at <= sent_before:
            sent = self._in_flight.popleft()
            left = [
                s for s in self.outbox.pending(sent.first - 1, sent.count) if s.seq <= sent.last
            ]
            if left:
                self.stats.resends += 1
                await self._send(client, left)
                resent = True
        return resent

    async def _send(self, client: aiomqtt.Client, batch: list[contract.Sample]) -> None:
        message = contract.TelemetryBatch(
            device_id=self.device_id, samples=batch, dropped_total=self.outbox.dropped_total
        )
        await client.publish(
            contract.topic(self.device_id, Channel.TELEMETRY), contract.encode(message), qos=1
        )
        self.stats.batches_sent += 1
        sent_at = asyncio.get_running_loop().time()
        self._in_flight.append(_InFlight(batch[0].seq, batch[-1].seq, len(batch), sent_at))

    async def _receive_forever(self, client: aiomqtt.Client, tasks: asyncio.TaskGroup) -> None:
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            try:
                decoded = contract.decode(str(message.topic), bytes(payload))
            except contract.ContractError as exc:
                log.warning(
                    "device=%s refused message on %s: %s", self.device_id, message.topic, exc
                )
                continue
            if isinstance(decoded, contract.TelemetryAck):
                self.outbox.acknowledge(decoded.ranges)
            elif isinstance(decoded, contract.Command):
                self.stats.commands_handled += 1
                tasks.create_task(self._commands.handle(decoded))
