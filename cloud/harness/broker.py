"""The broker a local stack runs on: the embedded one (zero set-up), a Mosquitto child
with dynamic security, or one that is already running. Shared by ``aftercare demo`` and
:class:`cloud.harness.stack.LocalStack`, so both start brokers the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cloud.settings import BrokerLogin

BrokerKind = Literal["embedded", "mosquitto"]


class LocalBrokerError(RuntimeError):
    """The broker that was asked for cannot be had; the message says why."""


@dataclass(frozen=True)
class LocalBroker:
    url: str
    cloud: BrokerLogin
    """The cloud's login (empty for a broker without authentication)."""
    admin: BrokerLogin | None
    """Dynamic-security admin: set, the cloud manages the broker's accounts."""
    bootstrap: BrokerLogin | None
    """The factory-fresh devices' shared login (None: anonymous)."""
    provisioning: bool
    """Whether the stack's devices get factory identities and provision themselves."""
    stop: Callable[[], object] | None = None
    """Takes the broker down (its sessions lost, as in a crash); None: not ours to stop."""
    start: Callable[[], object] | None = None
    """Brings a stopped broker back on the same port, its accounts kept."""

    def cloud_settings(self) -> dict[str, object]:
        """The cloud settings this broker implies: where it is, the cloud's login, and
        the admin and bootstrap logins when the cloud manages its accounts."""
        return {
            "mqtt_url": self.url,
            "mqtt_username": self.cloud.username,
            "mqtt_password": self.cloud.password,
            "dynsec_admin_username": self.admin.username if self.admin else None,
            "dynsec_admin_password": self.admin.password if self.admin else None,
            "provisioning": self.provisioning,
            "bootstrap_username": self.bootstrap.username if self.bootstrap else None,
        }


def _quiet(message: str) -> None:
    """The default for ``announce``: a test harness prints nothing of its own."""


@contextlib.contextmanager
def local_broker(
    kind: BrokerKind,
    folder: Path,
    configured_url: str | None = None,
    announce: Callable[[str], None] = _quiet,
) -> Iterator[LocalBroker]:
    """``configured_url`` (devices connect as they are, no provisioning), else the
    embedded broker (no logins or ACLs; devices still provision), or with ``mosquitto``
    a Mosquitto child with dynamic security in ``folder``. ``announce`` hears what was
    started and what it does not enforce."""
    from cloud.mqtt.broker import EmbeddedBroker
    from cloud.mqtt.mosquitto import SecureMosquitto

    if configured_url and kind == "mosquitto":
        raise LocalBrokerError(
            f"a broker is configured ({configured_url}) and mosquitto was asked for too: "
            "the mosquitto broker is started here, so leave the broker URL unset to use it"
        )
    if configured_url:
        yield LocalBroker(configured_url, BrokerLogin(), None, None, provisioning=False)
        return
    if kind == "mosquitto":
        with SecureMosquitto(folder / "mosquitto") as secure:
            announce(
                f"Mosquitto with dynamic security on {secure.url}: anonymous clients are "
                "refused, each device has its own login and may use only aftercare/v1/<its "
                "id>/, only the cloud sends commands and acks"
            )
            yield LocalBroker(
                secure.url,
                BrokerLogin(secure.cloud.username, secure.cloud.password),
                BrokerLogin(secure.admin.username, secure.admin.password),
                BrokerLogin(secure.bootstrap.username, secure.bootstrap.password),
                provisioning=True,
                stop=secure.kill,
                start=secure.start,
            )
        return
    with EmbeddedBroker() as embedded:
        announce(
            f"embedded MQTT broker on {embedded.url} (it enforces no logins or ACLs: any "
            "client may read or publish any topic; devices still provision, nothing checks "
            "their credentials; --broker mosquitto enforces per-device access)"
        )
        yield LocalBroker(
            embedded.url,
            BrokerLogin(),
            None,
            None,
            provisioning=True,
            stop=lambda: embedded.__exit__(None, None, None),
            start=embedded.__enter__,
        )
