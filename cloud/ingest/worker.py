"""The ingest worker: MQTT in, validated rows and acknowledgements out.

paho's network thread only hands raw messages to a bounded :class:`IngestBuffer`; a
writer thread takes them in batches, triages them, writes each batch in one transaction
and then tells each device what is stored. Ingest is stateless, so several workers can
share the load on a ``$share/`` subscription.

No single message can stop it: a database outage pauses writing and retries the same
batch (nothing is acknowledged before it is stored), and a batch the database refuses for
any other reason is split until the refused message is found; that one becomes a dead
letter with the database's reason and the rest is stored. The writer thread survives any
exception and reports whether it is alive and making progress, which ``/healthz`` shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from cloud.db.records import FirmwareReport, IngestBatch, LinkChange, StoredBatch, StoredSample
from cloud.db.telemetry import TelemetryStore
from cloud.ingest.buffer import IngestBuffer
from cloud.ingest.triage import RawMessage, halves, refused_by_store, stored_ranges, triage
from cloud.mqtt.client import CloudMqttClient
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import Clock
from device_agent.contract import Channel

log = logging.getLogger("aftercare.ingest")

StoredListener = Callable[[StoredBatch], None]
"""Called after each stored batch (in the writer thread: hand work off, return fast)."""


UNREGISTERED_LOG_S = 10.0


class DatabaseUnavailable(RuntimeError):
    """The database stayed down while ingest was stopping; nothing was acknowledged."""


@dataclass
class IngestStats:
    received: int = 0
    stored_samples: int = 0
    dead_letters: int = 0
    refused_by_database: int = 0
    batches: int = 0
    db_retries: int = 0
    listener_errors: int = 0
    writer_errors: int = 0
    unregistered: int = 0
    """Messages dropped because their device is not in the factory registry."""
    bundles: int = 0
    redacted_in_cloud: int = 0
    """Values the cloud withheld from bundles the devices had redacted already."""


class IngestWorker:
    """Start with ``start()``, stop with ``stop()`` (writes out what it already received)."""

    def __init__(
        self,
        settings: CloudSettings,
        store: TelemetryStore,
        clock: Clock,
        listeners: list[StoredListener] | None = None,
        registered: Callable[[str], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registered = registered
        """With ``registered_devices_only``: whether a device id may report."""
        self.clock = clock
        self.listeners = listeners or []
        self.stats = IngestStats()
        self.buffer = IngestBuffer(settings.ingest_buffer_max_bytes, settings.ingest_queue_max)
        self.mqtt = CloudMqttClient(
            settings.mqtt_url,
            settings.ingest_client_id,
            settings.ingest_share_group,
            self._on_message,
            settings.broker_login,
        )
        self._stopping = threading.Event()
        self._last_progress = time.monotonic()
        self._next_unregistered_log = 0.0
        self._writer = threading.Thread(target=self._write_forever, name="ingest-writer")

    @property
    def connected(self) -> bool:
        return self.mqtt.connected

    def wait_connected(self, timeout_s: float) -> bool:
        return self.mqtt.wait_connected(timeout_s)

    @property
    def backlog(self) -> int:
        """Messages received and not yet written (with their listeners told)."""
        return self.buffer.unfinished

    @property
    def writer_alive(self) -> bool:
        return self._writer.is_alive()

    @property
    def stalled(self) -> bool:
        """Messages are waiting and nothing has been written for ``ingest_stall_s``."""
        idle_s = time.monotonic() - self._last_progress
        return len(self.buffer) > 0 and idle_s > self.settings.ingest_stall_s

    def start(self) -> None:
        self._writer.start()
        self.mqtt.start()

    def stop(self) -> None:
        """Disconnect, then write out whatever was already received."""
        self.mqtt.stop()
        self._stopping.set()
        if self._writer.is_alive():
            self._writer.join()

    def _on_message(self, topic: str, payload: bytes) -> None:
        """paho's network thread: blocks while the buffer is full (back-pressure)."""
        self.buffer.put(RawMessage(topic, payload, self.clock.now()))

    def _write_forever(self) -> None:
        while not (self._stopping.is_set() and len(self.buffer) == 0):
            messages = self.buffer.take(
                self.settings.ingest_batch_max, self.settings.ingest_flush_s
            )
            self._last_progress = time.monotonic() if not messages else self._last_progress
            if not messages:
                continue
            try:
                self.process(messages)
            except DatabaseUnavailable:
                log.error("stopping with the database down: %d messages unwritten", len(messages))
            except Exception:
                # A bug must not stop ingest for the whole fleet: count it, say where,
                # carry on (the batch was not acknowledged, so devices will resend).
                self.stats.writer_errors += 1
                log.exception("ingest batch of %d messages failed", len(messages))
            self.buffer.finished()
            self._last_progress = time.monotonic()

    def process(self, messages: list[RawMessage]) -> StoredBatch:
        """Triage, store and acknowledge one batch."""
        self.stats.received += len(messages)
        batch = triage(messages, self.settings.max_future_skew_s, self.registered)
        if batch.unregistered:
            self.stats.unregistered += batch.unregistered
            self._say_unregistered()
        if batch.redacted_in_cloud:
            self.stats.redacted_in_cloud += batch.redacted_in_cloud
            devices = sorted({b.device_id for b, _ in batch.diagnostics})
            log.warning(
                "redacted %d values the devices left in bundles devices=%s",
                batch.redacted_in_cloud,
                ",".join(devices),
            )
        stored, new_samples = self._store(batch)
        self.stats.batches += 1
        self.stats.bundles += len(stored.diagnostics)
        self.stats.dead_letters += len(stored.dead_letters)
        self.stats.stored_samples += len(new_samples)
        for letter in stored.dead_letters:
            log.info("dead letter topic=%s reason=%s", letter.topic, letter.reason)
        self._acknowledge(stored)
        links = [LinkChange(s.device_id, s.online, at) for s, at in stored.statuses]
        firmware = [
            FirmwareReport(s.device_id, s.firmware, at)
            for s, at in stored.statuses
            if s.firmware is not None
        ]
        results = [r for r, _ in stored.results]
        outcome = StoredBatch(new_samples, links, firmware, results)
        if new_samples or links or results:
            self._notify(outcome)
        return outcome

    def _say_unregistered(self) -> None:
        """Log the dropped count at most every ``UNREGISTERED_LOG_S``: a flood of made-up
        ids must not flood the log either."""
        now = time.monotonic()
        if now >= self._next_unregistered_log:
            self._next_unregistered_log = now + UNREGISTERED_LOG_S
            log.warning(
                "dropped %d messages from devices not in the factory registry so far",
                self.stats.unregistered,
            )

    def _store(self, batch: IngestBatch) -> tuple[IngestBatch, list[StoredSample]]:
        """Store ``batch``; returns what was stored (refused items replaced by their dead
        letters) and the new samples."""
        try:
            return batch, self._apply_retrying(batch)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if len(batch) == 1:
                self.stats.refused_by_database += 1
                reason = f"refused by the database: {type(exc).__name__}: {exc}"[:1000]
                letter = refused_by_store(batch, reason)
                if batch.dead_letters:  # even the dead letter was refused: say so loudly
                    log.error("dead letter refused by the database: %s", reason)
                    return IngestBatch(), []
                return self._store(letter)
            first, second = halves(batch)
            stored_first, new_first = self._store(first)
            stored_second, new_second = self._store(second)
            merged = IngestBatch()
            for part in (stored_first, stored_second):
                merged.telemetry += part.telemetry
                merged.statuses += part.statuses
                merged.events += part.events
                merged.results += part.results
                merged.diagnostics += part.diagnostics
                merged.dead_letters += part.dead_letters
            return merged, new_first + new_second

    def _apply_retrying(self, batch: IngestBatch) -> list[StoredSample]:
        delay_s = 0.2
        while True:
            try:
                return self.store.apply(batch)
            except OperationalError as exc:
                self.stats.db_retries += 1
                if self._stopping.is_set():
                    raise DatabaseUnavailable(str(exc)) from None
                log.warning("database unavailable, retrying in %.1fs: %s", delay_s, exc)
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, self.settings.db_retry_max_s)
                self._last_progress = time.monotonic()  # waiting on the database is not a stall

    def _notify(self, stored: StoredBatch) -> None:
        """A failing listener (say, a detector bug) is counted and logged with its
        traceback; the samples are stored already and ingest carries on."""
        for listener in self.listeners:
            try:
                listener(stored)
            except Exception:
                self.stats.listener_errors += 1
                log.exception("ingest listener %r failed", listener)

    def _acknowledge(self, batch: IngestBatch) -> None:
        """Tell each device which of its samples, events and results are now stored."""
        ranges = stored_ranges(batch)
        events: dict[str, list[str]] = {}
        for event, _ in batch.events:
            events.setdefault(event.device_id, []).append(event.event_id)
        results: dict[str, list[str]] = {}
        for result, _ in batch.results:
            results.setdefault(result.device_id, []).append(result.command_id)
        bundles: dict[str, list[str]] = {}
        for bundle, _ in batch.diagnostics:
            bundles.setdefault(bundle.device_id, []).append(bundle.bundle_id)
        for device_id in sorted(set(ranges) | set(events) | set(results) | set(bundles)):
            ack = contract.TelemetryAck(
                device_id=device_id,
                ranges=ranges.get(device_id, [])[:1000],
                events=events.get(device_id, [])[:1000],
                results=results.get(device_id, [])[:1000],
                diagnostics=bundles.get(device_id, [])[:100] or None,
            )
            self.mqtt.publish(contract.topic(device_id, Channel.ACK), contract.encode(ack))
