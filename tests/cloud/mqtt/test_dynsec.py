"""The broker enforces who may say what: a real Mosquitto with dynamic security, the
roles of ``cloud.mqtt.dynsec``, and clients trying what they must not."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from cloud.mqtt.dynsec import CLOUD_ROLE, ROLES, DynsecError, device_role
from cloud.mqtt.mosquitto import SecureMosquitto
from device_agent import contract
from device_agent.contract import PROVISION_ROOT, Channel

pytestmark = pytest.mark.e2e

REFUSED = 0x80
"""SUBACK return code of a refused subscription (MQTT 3.1.1)."""


@contextlib.asynccontextmanager
async def session(
    broker: SecureMosquitto, client_id: str, username: str | None, password: str | None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=client_id,
        username=username,
        password=password,
        timeout=5,
    ) as client:
        yield client


async def refused(broker: SecureMosquitto, client_id: str, user: str | None, pw: str | None) -> str:
    """The broker's reason for refusing the connection; fails if it accepts it."""
    try:
        async with session(broker, client_id, user, pw):
            pass
    except aiomqtt.MqttCodeError as exc:
        return str(exc)
    raise AssertionError(f"{client_id} ({user}) was let in")


def add_device(broker: SecureMosquitto, device_id: str) -> str:
    password = f"pw-{device_id}-0123456789"
    with broker.admin_client() as admin:
        admin.ensure_device(device_id, password)
    return password


class Listener:
    """The cloud's identity hearing everything under the device and provisioning roots,
    to show what a forbidden publish did not deliver."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.heard: list[str] = []

    async def run(self) -> None:
        async for message in self.client.messages:
            self.heard.append(str(message.topic))

    async def wait_for(self, topic: str, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while topic not in self.heard:
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cloud_listener(broker: SecureMosquitto) -> AsyncIterator[Listener]:
    async with session(broker, "cloud-listener", broker.cloud.username, broker.cloud.password) as c:
        await c.subscribe(f"{contract.TOPIC_ROOT}/#", qos=1)
        await c.subscribe(f"{PROVISION_ROOT}/#", qos=1)
        listener = Listener(c)
        task = asyncio.create_task(listener.run())
        try:
            yield listener
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def assert_not_delivered(
    listener: Listener, client: aiomqtt.Client, forbidden: str, allowed: str
) -> None:
    """Publish on ``forbidden`` then on ``allowed``: once the second arrives, the first
    would have arrived before it (one publisher, one subscriber, order kept)."""
    await client.publish(forbidden, b"{}", qos=1)
    await client.publish(allowed, b"{}", qos=1)
    await listener.wait_for(allowed)
    assert forbidden not in listener.heard


async def granted(client: aiomqtt.Client, topic_filter: str) -> int:
    codes = await client.subscribe(topic_filter, qos=1)
    assert isinstance(codes, tuple | list)
    code = codes[0]
    return int(code if isinstance(code, int) else code.value)


async def test_anonymous_and_wrong_passwords_are_refused(secure_broker: SecureMosquitto) -> None:
    add_device(secure_broker, "dev-a")
    assert "authori" in (await refused(secure_broker, "anon", None, None)).lower()
    await refused(secure_broker, "dev-a", "dev-a", "not-the-password")
    await refused(secure_broker, "cloud", secure_broker.cloud.username, "wrong")
    await refused(secure_broker, "x", "no-such-user", "whatever")
    # a device's credentials only work with its own client id
    await refused(secure_broker, "dev-b", "dev-a", "pw-dev-a-0123456789")


async def test_a_device_stays_under_its_own_topics(secure_broker: SecureMosquitto) -> None:
    password_a = add_device(secure_broker, "dev-a")
    add_device(secure_broker, "dev-b")
    ok = contract.topic("dev-a", Channel.TELEMETRY)
    async with (
        cloud_listener(secure_broker) as cloud,
        session(secure_broker, "dev-a", "dev-a", password_a) as device,
    ):
        for channel in contract.DEVICE_TO_CLOUD:
            await device.publish(contract.topic("dev-a", channel), b"{}", qos=1)
            await cloud.wait_for(contract.topic("dev-a", channel))
        for forbidden in (
            *(contract.topic("dev-b", c) for c in Channel),  # B's topics, any channel
            contract.topic("dev-a", Channel.COMMANDS),  # forging the cloud to itself
            contract.topic("dev-a", Channel.ACK),
            f"{PROVISION_ROOT}/dev-a/challenge",
            f"{PROVISION_ROOT}/dev-a/credentials",
            "elsewhere/entirely",
        ):
            await assert_not_delivered(cloud, device, forbidden, ok)
        assert await granted(device, contract.topic("dev-a", Channel.COMMANDS)) == 1
        assert await granted(device, contract.topic("dev-a", Channel.ACK)) == 1
        for forbidden_filter in (
            contract.topic("dev-b", Channel.COMMANDS),
            contract.topic("dev-b", Channel.ACK),
            contract.topic("dev-b", Channel.TELEMETRY),
            contract.topic("+", Channel.COMMANDS),
            f"{contract.TOPIC_ROOT}/#",
            "#",
            f"$share/aftercare-ingest-telemetry/{contract.subscription(Channel.TELEMETRY)}",
            f"$share/aftercare-ingest/{contract.TOPIC_ROOT}/dev-a/commands",
            f"{PROVISION_ROOT}/dev-b/credentials",
        ):
            assert await granted(device, forbidden_filter) == REFUSED, forbidden_filter


async def test_only_the_cloud_commands_acknowledges_and_joins_the_ingest_share(
    secure_broker: SecureMosquitto,
) -> None:
    password_a = add_device(secure_broker, "dev-a")
    commands = contract.topic("dev-a", Channel.COMMANDS)
    ack = contract.topic("dev-a", Channel.ACK)
    cloud_user, cloud_pw = secure_broker.cloud.username, secure_broker.cloud.password
    async with (
        session(secure_broker, "dev-a", "dev-a", password_a) as device,
        session(secure_broker, "cloud-1", cloud_user, cloud_pw) as cloud,
    ):
        await device.subscribe(commands, qos=1)
        await device.subscribe(ack, qos=1)
        shared = f"$share/aftercare-ingest-telemetry/{contract.subscription(Channel.TELEMETRY)}"
        assert await granted(cloud, shared) == 1
        await cloud.publish(commands, b"command", qos=1)
        await cloud.publish(ack, b"ack", qos=1)
        heard = []
        async with asyncio.timeout(5):
            async for message in device.messages:
                heard.append(str(message.topic))
                if len(heard) == 2:
                    break
        assert heard == [commands, ack]


async def test_the_bootstrap_credential_reaches_only_provisioning_topics(
    secure_broker: SecureMosquitto,
) -> None:
    boot = secure_broker.bootstrap
    own = f"{PROVISION_ROOT}/dev-a"
    async with (
        cloud_listener(secure_broker) as cloud,
        session(secure_broker, "dev-a", boot.username, boot.password) as device,
    ):
        for step in ("hello", "proof"):
            await device.publish(f"{own}/{step}", b"{}", qos=1)
            await cloud.wait_for(f"{own}/{step}")
        for forbidden in (
            f"{own}/challenge",
            f"{own}/credentials",
            contract.topic("dev-a", Channel.TELEMETRY),
            contract.topic("dev-a", Channel.COMMAND_RESULT),
        ):
            await assert_not_delivered(cloud, device, forbidden, f"{own}/hello")
        assert await granted(device, f"{own}/challenge") == 1
        assert await granted(device, f"{own}/credentials") == 1
        for forbidden_filter in (
            f"{PROVISION_ROOT}/dev-a/hello",
            f"{PROVISION_ROOT}/#",
            contract.topic("dev-a", Channel.COMMANDS),
            f"{contract.TOPIC_ROOT}/#",
        ):
            assert await granted(device, forbidden_filter) == REFUSED, forbidden_filter


async def test_a_deleted_client_is_cut_off_and_cannot_connect_again(
    secure_broker: SecureMosquitto,
) -> None:
    password = add_device(secure_broker, "dev-a")
    async with session(secure_broker, "dev-a", "dev-a", password) as device:
        with secure_broker.admin_client() as admin:
            assert admin.revoke_device("dev-a") is True
            assert admin.revoke_device("dev-a") is False  # twice is not an error
        with pytest.raises(aiomqtt.MqttError):
            await asyncio.wait_for(_read_all(device), 5)
    await refused(secure_broker, "dev-a", "dev-a", password)


async def _read_all(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass


async def test_roles_are_idempotent_and_refusals_are_specific(
    secure_broker: SecureMosquitto,
) -> None:
    with secure_broker.admin_client() as admin:
        admin.ensure_roles()  # again, as a restarted cloud does
        admin.grant_role(secure_broker.cloud.username, CLOUD_ROLE)  # held already: no-op
        with pytest.raises(DynsecError, match="getClient"):
            admin.grant_role("nobody", CLOUD_ROLE)
        with pytest.raises(DynsecError, match="addClientRole"):
            admin.command("addClientRole", username="nobody", rolename=device_role("x")[0])
    roles = {r["rolename"]: r for r in _dynsec_roles(secure_broker)}
    for name, acls in ROLES.items():
        assert len(roles[name]["acls"]) == len(acls), name


def _dynsec_roles(broker: SecureMosquitto) -> list[dict[str, object]]:
    import json

    with broker.admin_client():
        pass  # the plugin has saved its file after every change
    document = json.loads(broker.dynsec_file.read_text())
    roles = document["roles"]
    assert isinstance(roles, list)
    return roles


async def test_a_device_provisioned_before_a_new_channel_gets_it_on_its_next_provisioning(
    secure_broker: SecureMosquitto,
) -> None:
    """A role made before the diagnostics channel existed is brought up to date."""
    role, acls = device_role("dev-old")
    older = [a for a in acls if not a.topic.endswith(Channel.DIAGNOSTICS.value)]
    assert len(older) < len(acls)
    with secure_broker.admin_client() as admin:
        body = [{"acltype": a.acltype, "topic": a.topic, "allow": a.allow} for a in older]
        admin.command("createRole", rolename=role, acls=body)
    password = add_device(secure_broker, "dev-old")
    diagnostics = contract.topic("dev-old", Channel.DIAGNOSTICS)
    async with (
        cloud_listener(secure_broker) as cloud,
        session(secure_broker, "dev-old", "dev-old", password) as device,
    ):
        await device.publish(diagnostics, b"{}", qos=1)
        await cloud.wait_for(diagnostics)
