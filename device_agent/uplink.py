"""What the agent sends over one MQTT session, and what it still waits to hear about.

Telemetry leaves the outbox in seq order, at most a window of unacknowledged samples at a
time; reports (command results, events) leave as they are added. Anything still
unacknowledged ``ack_timeout_s`` after it was sent is sent again, whatever happened to
newer messages: a broker that dropped one batch (no subscriber yet after its restart, say)
must not leave a hole until the window fills. A new session resends everything. Pacing is
in real time (the event loop's clock): it is about the network, not the device.

An acknowledgement is believed only for what was sent: a forged or stale one can neither
erase samples the cloud never saw nor anything beyond them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

import aiomqtt

from device_agent import contract
from device_agent.cancellation import honour_cancellation
from device_agent.contract import Channel
from device_agent.outbox import Outbox, ReportKind
from device_agent.settings import AgentSettings
from device_agent.stats import AgentStats

log = logging.getLogger("aftercare.agent")

REPORT_CHANNELS: dict[ReportKind, Channel] = {
    "result": Channel.COMMAND_RESULT,
    "event": Channel.EVENTS,
    "diagnostics": Channel.DIAGNOSTICS,
}


@dataclass(frozen=True)
class _InFlight:
    """A sent batch awaiting its acknowledgement: seqs ``first..last`` (``count`` samples,
    possibly with gaps), sent at ``sent_at`` on the event loop's clock."""

    first: int
    last: int
    count: int
    sent_at: float


class Uplink:
    """The sending half of the agent; one per agent, told about each new session."""

    def __init__(self, settings: AgentSettings, outbox: Outbox, stats: AgentStats) -> None:
        self.settings = settings
        self.outbox = outbox
        self.stats = stats
        self.highest_sent = -1
        """The highest seq sent since the agent started: acks beyond it are forged."""
        self._sent_upto = -1
        self._in_flight: deque[_InFlight] = deque()
        self._report_sent_at: dict[tuple[ReportKind, str], float] = {}
        self._reports_waiting = asyncio.Event()

    def report_waiting(self) -> None:
        """A report was just kept: the publish loop sends it now, not at the next flush."""
        self._reports_waiting.set()

    @property
    def device_id(self) -> str:
        return self.settings.device_id

    def new_session(self) -> None:
        """Everything unacknowledged goes again on the new session."""
        self._sent_upto = -1
        self._in_flight.clear()
        for key in self._report_sent_at:
            self._report_sent_at[key] = float("-inf")

    def accept_ack(self, ack: contract.TelemetryAck) -> bool:
        """Forget what ``ack`` says is stored, as far as it names what was sent; returns
        False when it named anything else (that part is ignored)."""
        ranges = [(first, min(last, self.highest_sent)) for first, last in ack.ranges]
        believed = [(first, last) for first, last in ranges if first <= last]
        self.outbox.acknowledge(believed)
        honest = believed == list(ack.ranges)
        named: tuple[tuple[ReportKind, list[str]], ...] = (
            ("result", ack.results),
            ("event", ack.events),
            ("diagnostics", ack.diagnostics or []),
        )
        for kind, ids in named:
            # An ack may name a report twice (sent again while the cloud restarted, both
            # copies acknowledged together): it is forgotten once.
            ids = list(dict.fromkeys(ids))
            sent = [i for i in ids if (kind, i) in self._report_sent_at]
            self.outbox.acknowledge_reports(kind, sent)
            for report_id in sent:
                del self._report_sent_at[(kind, report_id)]
            honest = honest and len(sent) == len(ids)
        return honest

    async def publish_forever(self, client: aiomqtt.Client) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        window = settings.batch_max_samples * 4
        while True:
            honour_cancellation()  # the publishes below may have dropped a stop
            overdue = loop.time() - settings.ack_timeout_s
            self._reports_waiting.clear()  # before sending: one kept meanwhile wakes us
            resent = await self._resend_overdue(client, overdue)
            await self._send_reports(client, overdue)
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
                await self._idle(settings.flush_interval_s)

    async def _idle(self, seconds: float) -> None:
        """Until the next flush, or a report kept before then. A stop that a publish just
        above dropped is honoured first: waiting out a long flush interval with it would
        leave the agent running that long after it was told to stop."""
        honour_cancellation()
        try:
            async with asyncio.timeout(seconds):  # not wait_for: see cancellation.py
                await self._reports_waiting.wait()
        except TimeoutError:
            pass

    async def _resend_overdue(self, client: aiomqtt.Client, sent_before: float) -> bool:
        """Resend what is left unacknowledged of every batch sent before ``sent_before``;
        batches acknowledged in full are forgotten. Returns whether any was resent."""
        resent = False
        while self._in_flight and self._in_flight[0].sent_at <= sent_before:
            sent = self._in_flight.popleft()
            pending = self.outbox.pending(sent.first - 1, sent.count)
            left = [sample for sample in pending if sample.seq <= sent.last]
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
        self.highest_sent = max(self.highest_sent, batch[-1].seq)
        sent_at = asyncio.get_running_loop().time()
        self._in_flight.append(_InFlight(batch[0].seq, batch[-1].seq, len(batch), sent_at))

    async def _send_reports(self, client: aiomqtt.Client, sent_before: float) -> None:
        """Send reports never sent, and again those unacknowledged since ``sent_before``."""
        for kind, report_id, payload in self.outbox.pending_reports():
            sent_at = self._report_sent_at.get((kind, report_id))
            if sent_at is not None and sent_at > sent_before:
                continue
            if sent_at is not None:
                self.stats.resends += 1
            await client.publish(
                contract.topic(self.device_id, REPORT_CHANNELS[kind]), payload, qos=1
            )
            self._report_sent_at[(kind, report_id)] = asyncio.get_running_loop().time()
