"""The ingest worker: MQTT in, validated rows and acknowledgements out.

A paho network thread only queues raw messages; a writer thread drains the queue in
batches, triages them, writes each batch in one transaction and then tells each device
which samples are stored. Ingest is stateless, so several workers can share the load on
a ``$share/`` subscription (MQTT 3.1.1 is enough: Mosquitto, rumqttd and EMQX all honour
``$share`` for 3.1.1 clients). A database outage pauses writing and retries the same
batch; nothing is acknowledged before it is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import OperationalError

from cloud.db.records import IngestBatch, LinkChange, StoredBatch
from cloud.db.telemetry import TelemetryStore
from cloud.ingest.triage import RawMessage, stored_ranges, triage
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import Clock
from device_agent.contract import Channel
from device_agent.settings import parse_mqtt_url

log = logging.getLogger("aftercare.ingest")

StoredListener = Callable[[StoredBatch], None]
"""Called after each stored batch (in the writer thread: hand work off, return fast)."""


@dataclass
class IngestStats:
    received: int = 0
    stored_samples: int = 0
    dead_letters: int = 0
    batches: int = 0
    db_retries: int = 0
    listener_errors: int = 0


class IngestWorker:
    """Start with ``start()``, stop with ``stop()`` (drains what it already received)."""

    def __init__(
        self,
        settings: CloudSettings,
        store: TelemetryStore,
        clock: Clock,
        listeners: list[StoredListener] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.listeners = listeners or []
        self.stats = IngestStats()
        self._queue: queue.Queue[RawMessage] = queue.Queue(settings.ingest_queue_max)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._writer = threading.Thread(target=self._write_forever, name="ingest-writer")
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.ingest_client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        host, port = parse_mqtt_url(self.settings.mqtt_url)
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()
        self._writer.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect, then write out whatever was already received."""
        self._client.disconnect()
        self._client.loop_stop()
        self._stopping.set()
        if self._writer.is_alive():
            self._writer.join()

    # paho network thread --------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("ingest connect refused: %s", reason)
            return
        group = self.settings.ingest_share_group
        client.subscribe(
            [(f"$share/{group}/{contract.subscription(c)}", 1) for c in contract.DEVICE_TO_CLOUD]
        )
        self._connected.set()
        log.info("ingest connected client_id=%s", self.settings.ingest_client_id)

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()
        log.info("ingest disconnected")

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(RawMessage(msg.topic, bytes(msg.payload), self.clock.now()))

    # writer thread --------------------------------------------------------------------

    def _drain(self) -> list[RawMessage]:
        try:
            first = self._queue.get(timeout=self.settings.ingest_flush_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.ingest_flush_s
        while len(batch) < self.settings.ingest_batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=max(remaining, 0.0)))
            except queue.Empty:
                break
        return batch

    def _write_forever(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            messages = self._drain()
            if messages:
                self.process(messages)

    def process(self, messages: list[RawMessage]) -> StoredBatch | None:
        """Triage, store and acknowledge one batch; retries while the database is down.
        Returns None only when stopping with the database still down (nothing was
        acknowledged, so devices will resend)."""
        self.stats.received += len(messages)
        sorted_batch = triage(messages, self.settings.max_future_skew_s)
        delay_s = 0.2
        while True:
            try:
                new_samples = self.store.apply(sorted_batch)
                break
            except OperationalError as exc:
                self.stats.db_retries += 1
                log.warning("database unavailable, retrying in %.1fs: %s", delay_s, exc)
                if self._stopping.is_set():
                    return None
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, self.settings.db_retry_max_s)
        self.stats.batches += 1
        self.stats.dead_letters += len(sorted_batch.dead_letters)
        self.stats.stored_samples += len(new_samples)
        for letter in sorted_batch.dead_letters:
            log.info("dead letter topic=%s reason=%s", letter.topic, letter.reason)
        self._acknowledge(sorted_batch)
        links = [LinkChange(s.device_id, s.online, at) for s, at in sorted_batch.statuses]
        stored = StoredBatch(new_samples, links)
        if new_samples or links:
            self._notify(stored)
        return stored

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
        """Tell each device which of its samples are now stored."""
        for device_id, ranges in stored_ranges(batch).items():
            ack = contract.TelemetryAck(device_id=device_id, ranges=ranges[:1000])
            self._client.publish(
                contract.topic(device_id, Channel.ACK), contract.encode(ack), qos=1
            )
