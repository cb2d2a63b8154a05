"""Factory batch → provisioning → telemetry, on Mosquitto with dynamic security: a device
that holds only its secret and the shared bootstrap credential gets its own broker
credentials and the cloud's command key, and its telemetry reaches the database through
an ingest that connects as the cloud. Unknown devices get nothing and leave no trace; a
release revokes the broker credentials."""

from __future__ import annotations

import asyncio
import contextlib
import random
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import func, select

from cloud.db.schema import dead_letters, devices, factory_devices
from cloud.mqtt.mosquitto import SecureMosquitto
from device_agent.agent import Agent
from device_agent.clock import SystemClock
from device_agent.enrolment import provision
from device_agent.provisioning import ProvisioningFailed
from device_agent.settings import AgentSettings, parse_broker_url
from firmware_sim.factory import Batch, generate_batch
from firmware_sim.models.registry import build_device
from tests.conftest import RunningCloud, cloud_settings, running_cloud, stop_task, wait_until

pytestmark = pytest.mark.e2e

MODEL = "heatpump-hp200"


@pytest.fixture
async def secure_cloud(
    secure_broker: SecureMosquitto, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningCloud]:
    settings = cloud_settings(
        secure_broker,  # type: ignore[arg-type]
        database_url,
        tmp_path,
        mqtt_username=secure_broker.cloud.username,
        mqtt_password=secure_broker.cloud.password,
        dynsec_admin_username=secure_broker.admin.username,
        dynsec_admin_password=secure_broker.admin.password,
        bootstrap_username=secure_broker.bootstrap.username,
    )
    async with running_cloud(settings) as cloud:
        provisioning = cloud.service.provisioning
        assert provisioning is not None
        assert await asyncio.to_thread(provisioning.wait_connected, 10)
        yield cloud


def factory_batch(cloud: RunningCloud, count: int = 1) -> Batch:
    """A batch from the simulated factory, imported as a manufacturer would."""
    from cloud.identity import FactoryBatch

    batch = generate_batch(MODEL, count, random.Random(7))
    cloud.service.repos.factory.import_batch(FactoryBatch.model_validate_json(batch.to_json()))
    return batch


def agent_settings(
    broker: SecureMosquitto, device_id: str, secret: str, folder: Path, **extra: object
) -> AgentSettings:
    values: dict[str, object] = {
        "device_id": device_id,
        "mqtt_url": broker.url,
        "device_secret": secret,
        "bootstrap_username": broker.bootstrap.username,
        "bootstrap_password": broker.bootstrap.password,
        "state_dir": folder / "agent-state",
        "telemetry_interval_s": 0.1,
        "flush_interval_s": 0.2,
        "reconnect_min_s": 0.2,
        "reconnect_max_s": 0.5,
        "provision_timeout_s": 5.0,
        **extra,
    }
    return AgentSettings.model_validate(values)


@contextlib.asynccontextmanager
async def running_agent(settings: AgentSettings) -> AsyncIterator[Agent]:
    clock = SystemClock()
    agent = Agent(settings, build_device(MODEL, settings.device_id, clock, 1), clock)
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        await stop_task(task)
        agent.outbox.close()


def count(cloud: RunningCloud, table: object) -> int:
    with cloud.service.repos.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def connects(broker: SecureMosquitto, client_id: str, username: str, password: str) -> bool:
    try:
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=client_id, username=username, password=password
        ):
            return True
    except aiomqtt.MqttCodeError:
        return False


async def test_a_factory_fresh_device_provisions_itself_and_reports(
    secure_broker: SecureMosquitto, secure_cloud: RunningCloud, tmp_path: Path
) -> None:
    device = factory_batch(secure_cloud).devices[0]
    settings = agent_settings(secure_broker, device.device_id, device.device_secret, tmp_path)
    async with running_agent(settings) as agent:
        await asyncio.wait_for(agent.connected.wait(), 15)
        stored = agent.enrolment.store.load()
        assert stored is not None
        assert stored.mqtt_username == device.device_id
        assert stored.command_key == secure_cloud.service.signer.public_key_text
        assert agent._commands.authenticator.public_key is not None  # the key is pinned
        path = agent.enrolment.store.path
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        telemetry = secure_cloud.service.repos.telemetry
        await wait_until(lambda: len(telemetry.telemetry(device.device_id, limit=5)) >= 3, 15)
        assert len(telemetry.telemetry(device.device_id, limit=5)) >= 3
    # its own credentials work on their own (and only with its client id)
    assert await connects(secure_broker, device.device_id, device.device_id, stored.mqtt_password)
    assert not await connects(secure_broker, "other", device.device_id, stored.mqtt_password)
    # a restart connects with the stored credentials, without provisioning again
    provisioned = secure_cloud.service.provisioning.stats.provisioned  # type: ignore[union-attr]
    async with running_agent(settings) as agent:
        await asyncio.wait_for(agent.connected.wait(), 15)
    assert secure_cloud.service.provisioning.stats.provisioned == provisioned  # type: ignore[union-attr]


async def test_unknown_devices_get_nothing_and_leave_no_rows(
    secure_broker: SecureMosquitto, secure_cloud: RunningCloud, tmp_path: Path
) -> None:
    factory_batch(secure_cloud)
    before = [count(secure_cloud, t) for t in (dead_letters, devices, factory_devices)]
    stranger = agent_settings(
        secure_broker, f"{MODEL}-ffffffffff", "x" * 43, tmp_path, provision_timeout_s=1.5
    )
    with pytest.raises(ProvisioningFailed, match="no credentials"):
        await provision(stranger, parse_broker_url(secure_broker.url))
    assert [count(secure_cloud, t) for t in (dead_letters, devices, factory_devices)] == before
    assert secure_cloud.service.provisioning.stats.unknown_devices >= 1  # type: ignore[union-attr]


async def test_a_wrong_secret_is_refused_and_recorded(
    secure_broker: SecureMosquitto, secure_cloud: RunningCloud, tmp_path: Path
) -> None:
    device = factory_batch(secure_cloud).devices[0]
    impostor = agent_settings(
        secure_broker, device.device_id, "y" * 43, tmp_path, provision_timeout_s=1.5
    )
    with pytest.raises(ProvisioningFailed):
        await provision(impostor, parse_broker_url(secure_broker.url))
    with secure_cloud.service.repos.engine.connect() as conn:
        reasons = list(conn.scalars(select(dead_letters.c.reason)))
    assert any("proof does not verify" in r for r in reasons), reasons
    assert not await connects(secure_broker, device.device_id, device.device_id, "y" * 43)


async def owner_token(cloud: RunningCloud, email: str) -> str:
    async with cloud.client() as anonymous:
        created = await anonymous.post(
            "/api/v1/owners", json={"email": email, "password": "a long password"}
        )
        assert created.status_code == 201, created.text
        signed_in = await anonymous.post(
            "/api/v1/auth/token", data={"username": email, "password": "a long password"}
        )
    token: str = signed_in.json()["access_token"]
    return token


async def test_a_release_revokes_the_broker_credentials(
    secure_broker: SecureMosquitto, secure_cloud: RunningCloud, tmp_path: Path
) -> None:
    device = factory_batch(secure_cloud).devices[0]
    settings = agent_settings(secure_broker, device.device_id, device.device_secret, tmp_path)
    token = await owner_token(secure_cloud, "resale@example.com")
    async with secure_cloud.client(token) as owner:
        claimed = await owner.post("/api/v1/claims", json={"claim_code": device.claim_code})
        assert claimed.status_code == 201, claimed.text
    async with running_agent(settings) as agent:
        await asyncio.wait_for(agent.connected.wait(), 15)
        old = agent.enrolment.store.load()
        assert old is not None
        async with secure_cloud.client(token) as owner:
            released = await owner.delete(f"/api/v1/devices/{device.device_id}/owner")
        assert released.status_code == 200, released.text
        new_secret = released.json()["device_secret"]
        # the live session is cut, the old password is refused, the old secret proves
        # nothing any more: the device stays off the broker until it gets its new secret
        await wait_until(lambda: not agent.connected.is_set(), 10)
        assert not agent.connected.is_set()
        await wait_until(lambda: agent.enrolment.store.load() is None, 10)
        assert agent.enrolment.store.load() is None
    assert not await connects(secure_broker, device.device_id, device.device_id, old.mqtt_password)
    renewed = await provision(
        settings.model_copy(update={"device_secret": new_secret}),
        parse_broker_url(secure_broker.url),
    )
    assert renewed.credentials_version == old.credentials_version + 1
    assert renewed.mqtt_password != old.mqtt_password
    assert await connects(secure_broker, device.device_id, device.device_id, renewed.mqtt_password)


async def test_the_whole_path_from_factory_batch_to_an_activated_owner_device(
    secure_broker: SecureMosquitto, secure_cloud: RunningCloud, tmp_path: Path
) -> None:
    """Factory batch → provisioning → claim (the code typed the way an owner types it)
    → the device's self-checks tick its steps → the owner completes theirs → activated."""
    device = factory_batch(secure_cloud).devices[0]
    settings = agent_settings(secure_broker, device.device_id, device.device_secret, tmp_path)
    email, password = "ada@example.org", "correct horse battery"
    async with running_agent(settings) as agent:
        await asyncio.wait_for(agent.connected.wait(), 15)
        async with secure_cloud.client() as anonymous:
            signed_up = await anonymous.post(
                "/api/v1/owners", json={"email": email, "password": password}
            )
            assert signed_up.status_code == 201, signed_up.text
            signed_in = await anonymous.post(
                "/api/v1/auth/token", data={"username": email, "password": password}
            )
            token = signed_in.json()["access_token"]
        async with secure_cloud.client(token) as owner:
            typed = device.claim_code.lower().replace("-", " ")
            claimed = await owner.post("/api/v1/claims", json={"claim_code": typed})
            assert claimed.status_code == 201, claimed.text
            assert claimed.json()["device_id"] == device.device_id
            setup_url = f"/api/v1/devices/{device.device_id}/setup"

            async def steps() -> dict[str, dict[str, object]]:
                body = (await owner.get(setup_url)).json()
                return {s["id"]: s for s in body["steps"]}

            by_device: dict[str, dict[str, object]] = {}
            for _ in range(150):
                current = await steps()
                by_device = {k: s for k, s in current.items() if s["verified_by"] == "device"}
                if by_device and all(s["state"] == "done" for s in by_device.values()):
                    break
                await asyncio.sleep(0.1)
            assert by_device, "the model's checklist has device steps"
            assert all(s["state"] == "done" for s in by_device.values()), by_device
            assert not (await owner.get(setup_url)).json()["activated"]
            for step_id, step in (await steps()).items():
                if step["verified_by"] == "owner":
                    assert step["state"] == "needs_owner"
                    ticked = await owner.post(f"{setup_url}/{step_id}")
                    assert ticked.status_code == 200, ticked.text
            final = (await owner.get(setup_url)).json()
    assert final["activated"] is True, final
    assert all(s["state"] == "done" for s in final["steps"])
