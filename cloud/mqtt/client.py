"""The cloud's MQTT session: paho on its own network thread, subscribed on a shared
subscription to every device's uplink channels, and publishing to devices.

MQTT 3.1.1 is enough: Mosquitto, rumqttd and EMQX all honour ``$share/`` for 3.1.1
clients, so several ingest workers split the load. The session is persistent
(``clean_session=False``) and resubscribes on every connect, because a restarted broker
without persistence has forgotten the subscription.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.settings import BrokerLogin
from device_agent import contract
from device_agent.contract import Channel
from device_agent.settings import parse_broker_url

log = logging.getLogger("aftercare.mqtt")

MessageHandler = Callable[[str, bytes], None]
"""Called in paho's network thread with (topic, payload); may block (back-pressure)."""


def shared_filter(group: str, channel: Channel) -> str:
    """The shared subscription of one channel. One share group per channel: rumqttd (the
    embedded broker) serves only the first filter of a group per client, so with one
    group for all four channels the cloud heard telemetry only (no status, events or
    command results); Mosquitto and EMQX balance each group on its own either way."""
    return f"$share/{group}-{channel.value.replace('/', '-')}/{contract.subscription(channel)}"


def apply_login(client: mqtt.Client, url: str, login: BrokerLogin) -> None:
    """Configure a paho client for ``url`` with the cloud's login (and TLS for
    ``mqtts://``, trusting ``login.tls_ca_file`` or the system's CAs)."""
    if login.username is not None:
        client.username_pw_set(login.username, login.password)
    if parse_broker_url(url).tls:
        client.tls_set(ca_certs=login.tls_ca_file)


class CloudMqttClient:
    """``start()``, ``publish()`` as needed, ``stop()``; thread-safe."""

    def __init__(
        self,
        url: str,
        client_id: str,
        share_group: str,
        on_message: MessageHandler,
        login: BrokerLogin | None = None,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.share_group = share_group
        self._handler = on_message
        self._connected = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        apply_login(self._client, url, login or BrokerLogin())

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        address = parse_broker_url(self.url)
        self._client.connect_async(address.host, address.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message; paho delivers it (and keeps QoS 1 ones across reconnects)."""
        self._client.publish(topic, payload, qos=qos)

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt connect refused client_id=%s reason=%s", self.client_id, reason)
            return
        client.subscribe(
            [(shared_filter(self.share_group, c), 1) for c in contract.DEVICE_TO_CLOUD]
        )
        self._connected.set()
        log.info("mqtt connected client_id=%s", self.client_id)

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()
        log.info("mqtt disconnected client_id=%s", self.client_id)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._handler(msg.topic, bytes(msg.payload))
