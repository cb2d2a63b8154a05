"""The embedded MQTT broker for zero-setup runs (``aftercare demo``).

rumqttd, shipped as the ``iotcore`` wheel, runs in a child process. Production points
``AFTERCARE_MQTT_URL`` at Mosquitto or an EMQX cluster instead.
"""

from __future__ import annotations

import socket

from device_agent.contract import MAX_PAYLOAD_BYTES


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """``with EmbeddedBroker() as broker: broker.url`` -> a running broker on loopback."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        from iotcore import Broker  # only the demo needs the embedded broker

        self.host = host
        self.port = port or free_port(host)
        self._broker = Broker(
            port=self.port,
            listen=host,
            max_payload_size=MAX_PAYLOAD_BYTES + 4096,
            max_inflight_count=1000,
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def __enter__(self) -> EmbeddedBroker:
        self._broker.start(timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        self._broker.stop()
