"""The agent's MQTT side of provisioning, and where it keeps what it was given.

A factory-fresh device (a ``device_secret``, the shared bootstrap credential, no broker
credentials of its own) connects with the bootstrap credential, runs the handshake of
:mod:`device_agent.provisioning`, stores the credentials and the cloud's command key in
its state directory (mode 0600) and from then on connects as itself. Credentials the
broker refuses (a release revoked them) are forgotten, so the next attempt provisions
again, which succeeds once the device holds its new secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import aiomqtt
from pydantic import ValidationError

from device_agent import contract
from device_agent.contract import ContractError, ProvisionChallenge, ProvisionCredentials
from device_agent.contract import ProvisionStep as Step
from device_agent.provisioning import DeviceHandshake, IssuedCredentials, ProvisioningFailed
from device_agent.settings import AgentSettings, BrokerAddress

log = logging.getLogger("aftercare.agent")

REFUSED_LOGIN_CODES = frozenset({4, 5, 134, 135})
"""CONNACK codes that mean "these credentials are not (or no longer) good": bad username
or password and not authorised, in MQTT 3.1.1 and 5."""


class CredentialStore:
    """The provisioned credentials, in ``credentials.json`` beside the agent's outbox, or
    in memory for an agent whose outbox is (a simulated fleet's)."""

    def __init__(self, outbox_path: str | Path) -> None:
        self.path = (
            None
            if str(outbox_path) == ":memory:"
            else Path(outbox_path).parent / "credentials.json"
        )
        self._memory: IssuedCredentials | None = None

    def load(self) -> IssuedCredentials | None:
        """What was stored; a file that no longer parses is treated as none (the device
        provisions again) and reported."""
        if self.path is None:
            return self._memory
        try:
            return IssuedCredentials.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.warning("credentials file %s unusable, provisioning again: %s", self.path, exc)
            return None

    def save(self, credentials: IssuedCredentials) -> None:
        """Replace the stored credentials atomically; the file is readable by the agent's
        user only, from the moment it exists."""
        if self.path is None:
            self._memory = credentials
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(credentials.model_dump_json().encode())
        os.replace(partial, self.path)

    def clear(self) -> None:
        self._memory = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class Enrolment:
    """Which login the agent connects with, provisioning when it has none."""

    def __init__(
        self, settings: AgentSettings, store: CredentialStore, pin_key: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.store = store
        self._pin_key = pin_key

    async def login(self, address: BrokerAddress) -> tuple[str | None, str | None]:
        """Username and password: set by hand, stored from an earlier provisioning, or
        provisioned now (with a device secret); none for a broker without authentication.
        A fresh provisioning pins the cloud's command key it delivered."""
        settings = self.settings
        if settings.mqtt_username is not None:
            return settings.mqtt_username, settings.mqtt_password
        stored = self.store.load()
        if stored is None and settings.device_secret is not None:
            stored = await provision(settings, address)
            self.store.save(stored)
            self._pin_key(stored.command_key)
            log.info(
                "device=%s provisioned (credentials version %d)",
                settings.device_id,
                stored.credentials_version,
            )
        if stored is None:
            return None, None
        return stored.mqtt_username, stored.mqtt_password

    def connect_failed(self, error: BaseException) -> None:
        """Provisioned credentials the broker refuses (a release revoked them, the broker
        lost its accounts) are forgotten, so the next attempt provisions again."""
        if (
            login_refused(error)
            and self.settings.mqtt_username is None
            and self.settings.device_secret is not None
            and self.store.load() is not None
        ):
            log.warning("device=%s credentials refused, forgetting them", self.settings.device_id)
            self.store.clear()


def tls_parameters(settings: AgentSettings, address: BrokerAddress) -> aiomqtt.TLSParameters | None:
    """TLS for an ``mqtts://`` broker, trusting ``tls_ca_file`` or the system's CAs."""
    if not address.tls:
        return None
    ca = str(settings.tls_ca_file) if settings.tls_ca_file is not None else None
    return aiomqtt.TLSParameters(ca_certs=ca)


def login_refused(error: BaseException) -> bool:
    """Whether the broker refused the connection for its credentials."""
    if not isinstance(error, aiomqtt.MqttCodeError):
        return False
    code = getattr(error.rc, "value", error.rc)
    return code in REFUSED_LOGIN_CODES


async def provision(settings: AgentSettings, address: BrokerAddress) -> IssuedCredentials:
    """One provisioning attempt with the bootstrap credential. Raises ProvisioningFailed
    (no answer in ``provision_timeout_s``) or aiomqtt.MqttError (the broker refused or
    went away); the caller retries with backoff."""
    if settings.device_secret is None:
        raise ProvisioningFailed("no device_secret to provision with")
    device_id = settings.device_id
    handshake = DeviceHandshake(device_id, settings.device_secret)
    async with aiomqtt.Client(
        address.host,
        address.port,
        identifier=device_id,
        username=settings.bootstrap_username,
        password=settings.bootstrap_password,
        clean_session=True,
        tls_params=tls_parameters(settings, address),
        timeout=10,
    ) as client:
        await client.subscribe(contract.provision_topic(device_id, Step.CHALLENGE), qos=1)
        await client.subscribe(contract.provision_topic(device_id, Step.CREDENTIALS), qos=1)
        hello = contract.encode(handshake.hello())
        await client.publish(contract.provision_topic(device_id, Step.HELLO), hello, qos=1)
        try:
            async with asyncio.timeout(settings.provision_timeout_s):
                return await _answer(client, handshake)
        except TimeoutError:
            raise ProvisioningFailed(
                f"no credentials from the cloud within {settings.provision_timeout_s:g} s "
                "(unknown device, wrong secret, or no provisioning service)"
            ) from None


async def _answer(client: aiomqtt.Client, handshake: DeviceHandshake) -> IssuedCredentials:
    """Answer the first challenge; return the first credentials that open. Anything else
    on these topics (another client's traffic, a stale answer) is ignored."""
    device_id = handshake.device_id
    async for message in client.messages:
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            continue
        try:
            decoded = contract.decode_provision(str(message.topic), bytes(payload))
        except ContractError as exc:
            log.warning("device=%s ignored provisioning message: %s", device_id, exc.reason)
            continue
        if isinstance(decoded, ProvisionChallenge) and handshake.nonce is None:
            proof = contract.encode(handshake.answer(decoded))
            await client.publish(contract.provision_topic(device_id, Step.PROOF), proof, qos=1)
        elif isinstance(decoded, ProvisionCredentials):
            try:
                return handshake.open(decoded)
            except ProvisioningFailed as exc:
                log.warning("device=%s ignored credentials: %s", device_id, exc.reason)
    raise ProvisioningFailed("the broker closed the provisioning session")
