"""The provisioning service: answers factory-fresh devices on their provisioning topics.

It connects as the cloud's identity, hears every ``hello`` and ``proof`` (a plain
subscription, not a shared one: the challenges it issued live in its memory, so the
proof must come back to the same process; run it in the one cloud process that holds
the broker's admin credentials), and for a proof that verifies it gives the device a
broker client of its own through the dynamic-security admin API and sends the
credentials sealed to the device's ephemeral key (see :mod:`device_agent.provisioning`).

Nothing a device sends can stop it: every message is handled in paho's network thread
inside one guard that counts and logs unexpected errors and carries on. A message about
a device no batch made creates no rows and no state, only a rate-limited log line (anyone
holding the bootstrap credential could otherwise fill the database); a refused message
about a known device becomes a dead letter with its reason, like refused telemetry.

Handshake windows are real network time, so the service takes its own clock (the
system's), not the demo's accelerated device time.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.db.factory import FactoryRegistry
from cloud.db.records import DeadLetter, IngestBatch
from cloud.db.telemetry import TelemetryStore
from cloud.identity.provisioning import ChallengeBook, ProofRejected, check_proof
from cloud.ingest.triage import excerpt
from cloud.mqtt.client import apply_login
from cloud.mqtt.dynsec import DynsecAdmin
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import Clock, SystemClock
from device_agent.contract import (
    ContractError,
    ProvisionHello,
    ProvisionProof,
    ProvisionStep,
)
from device_agent.provisioning import IssuedCredentials, ProvisioningFailed, seal
from device_agent.settings import parse_broker_url

log = logging.getLogger("aftercare.provision")

UNKNOWN_LOG_INTERVAL_S = 10.0


@dataclass
class ProvisioningStats:
    challenges: int = 0
    provisioned: int = 0
    refused: int = 0
    unknown_devices: int = 0
    errors: int = 0


class ProvisioningWorker:
    """``start()``, ``stop()``.

    Without ``admin`` (a broker the cloud does not manage) the handshake still runs and
    devices get credentials, which such a broker does not check."""

    def __init__(
        self,
        settings: CloudSettings,
        registry: FactoryRegistry,
        store: TelemetryStore,
        admin: DynsecAdmin | None,
        command_key: str,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.admin = admin
        self.command_key = command_key
        self.clock = clock or SystemClock()
        self.book = ChallengeBook()
        self.stats = ProvisioningStats()
        self._connected = threading.Event()
        self._last_unknown_log = -UNKNOWN_LOG_INTERVAL_S
        self._unknown_unlogged = 0
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.provisioning_client_id,
            protocol=mqtt.MQTTv311,
        )
        apply_login(self._client, settings.mqtt_url, settings.broker_login)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_: self._connected.clear()
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        address = parse_broker_url(self.settings.mqtt_url)
        self._client.connect_async(address.host, address.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("provisioning connect refused: %s", reason)
            return
        steps = (ProvisionStep.HELLO, ProvisionStep.PROOF)
        client.subscribe([(contract.provision_subscription(s), 1) for s in steps])
        self._connected.set()

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(msg.topic, bytes(msg.payload))
        except Exception:
            self.stats.errors += 1
            log.exception("provisioning message on %s failed", msg.topic)

    def handle(self, topic: str, payload: bytes) -> None:
        """One provisioning message: answer it, or refuse it with a reason."""
        try:
            device_id, _ = contract.parse_provision_topic(topic)
        except ContractError as exc:
            self._unknown(topic, exc.reason)
            return
        key = self.registry.proof_key(device_id)
        if key is None:
            self._unknown(topic, "no batch made this device")
            return
        try:
            message = contract.decode_provision(topic, payload)
        except ContractError as exc:
            self._refuse(topic, payload, exc.reason)
            return
        if isinstance(message, ProvisionHello):
            challenge = self.book.issue(device_id, self.clock.now())
            self._publish(ProvisionStep.CHALLENGE, device_id, contract.encode(challenge))
            self.stats.challenges += 1
        elif isinstance(message, ProvisionProof):
            try:
                check_proof(self.book, message, key.secret_sha256, self.clock.now())
                issued = IssuedCredentials(
                    mqtt_username=device_id,
                    mqtt_password=secrets.token_urlsafe(32),
                    command_key=self.command_key,
                    credentials_version=key.credentials_version,
                )
                sealed = seal(issued, message)
            except (ProofRejected, ProvisioningFailed) as exc:
                self._refuse(topic, payload, exc.reason)
                return
            if self.admin is not None:
                self.admin.ensure_device(device_id, issued.mqtt_password)
            self._publish(ProvisionStep.CREDENTIALS, device_id, contract.encode(sealed))
            self.stats.provisioned += 1
            log.info(
                "device=%s provisioned credentials_version=%d", device_id, key.credentials_version
            )
        else:  # the cloud's own steps, sent to it: nothing a device should do
            self._refuse(topic, payload, "devices send only hello and proof")

    def _publish(self, step: ProvisionStep, device_id: str, payload: bytes) -> None:
        self._client.publish(contract.provision_topic(device_id, step), payload, qos=1)

    def _refuse(self, topic: str, payload: bytes, reason: str) -> None:
        """A known device's refused message: a dead letter, as refused telemetry is."""
        self.stats.refused += 1
        reason = f"provisioning refused: {reason}"
        log.warning("dead letter topic=%s reason=%s", topic, reason)
        letter = DeadLetter(self.clock.now(), topic[:1024], reason, len(payload), excerpt(payload))
        self.store.apply(IngestBatch(dead_letters=[letter]))

    def _unknown(self, topic: str, reason: str) -> None:
        """At most one log line per interval, with how many it stands for."""
        self.stats.unknown_devices += 1
        self._unknown_unlogged += 1
        now = time.monotonic()
        if now - self._last_unknown_log >= UNKNOWN_LOG_INTERVAL_S:
            log.warning(
                "ignored %d provisioning messages for unknown devices (latest %s: %s)",
                self._unknown_unlogged,
                topic[:200],
                reason,
            )
            self._last_unknown_log = now
            self._unknown_unlogged = 0
