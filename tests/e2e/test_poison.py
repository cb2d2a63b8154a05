"""One message must never stop ingest for the fleet: each poison input an attacker or a
broken device can publish ends as a dead letter with its reason (or, when valid, is
stored), the messages around it are stored, and /healthz stays truthful."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import text

from cloud.identity.batch import FactoryBatch
from device_agent import contract
from device_agent.contract import Channel
from device_agent.settings import parse_mqtt_url
from firmware_sim.factory import generate_batch
from tests.audit import recent_dead_letters, stored_seqs
from tests.conftest import Broker, RunningCloud, cloud_settings, running_cloud, wait_until

pytestmark = pytest.mark.e2e

NOW = 1_750_000_000.0


def _telemetry(device_id: str, seq: int, dropped_total: int = 0) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "device_id": device_id,
            "samples": [{"seq": seq, "ts": NOW + seq % 1000, "metrics": {"t": 1.0}}],
            "dropped_total": dropped_total,
        }
    ).encode()


async def _publish(broker: Broker, messages: list[tuple[str, bytes]]) -> None:
    host, port = parse_mqtt_url(broker.url)
    async with aiomqtt.Client(host, port, identifier="attacker") as client:
        for topic_name, payload in messages:
            await client.publish(topic_name, payload, qos=1)


async def test_poison_messages_are_dead_letters_and_the_fleet_is_still_ingested(
    broker: Broker, cloud: RunningCloud
) -> None:
    telemetry = contract.topic("victim", Channel.TELEMETRY)
    status = json.dumps(
        {"v": 1, "device_id": "victim", "online": True, "ts": NOW, "firmware": "1.0\u0000"}
    ).encode()
    poison = [
        (telemetry, _telemetry("victim", 2**63)),  # beyond SQLite's and PostgreSQL's BIGINT
        (telemetry, _telemetry("victim", 7, dropped_total=2**64)),
        (contract.topic("victim", Channel.STATUS), status),  # NUL: PostgreSQL refuses it
    ]
    valid = [
        (telemetry, _telemetry("victim", 0)),
        (telemetry, _telemetry("victim", 2**31 + 5, dropped_total=2**40)),  # > a 32-bit column
        (contract.topic("bystander", Channel.TELEMETRY), _telemetry("bystander", 0)),
    ]
    await _publish(broker, [*poison, *valid])
    engine = cloud.service.repos.engine
    await wait_until(lambda: len(stored_seqs(engine, "bystander")) == 1)
    assert stored_seqs(engine, "victim") == [0, 2**31 + 5]
    assert stored_seqs(engine, "bystander") == [0]
    reasons = [letter.reason for letter in recent_dead_letters(engine)]
    assert len(reasons) == len(poison), reasons
    assert sum("less than or equal to 9007199254740992" in r for r in reasons) == 2
    assert any("firmware: String should match pattern" in r for r in reasons)
    device = cloud.service.repos.telemetry.get_device("victim")
    assert device is not None
    assert device.dropped_total == 2**40
    async with cloud.client() as api:
        health = await api.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["ingest"] is True


async def test_a_message_the_database_refuses_is_found_and_the_rest_is_stored(
    broker: Broker, cloud: RunningCloud
) -> None:
    """Whatever the database refuses beyond the contract (here a CHECK constraint, as a
    stricter schema or a trigger would) costs only that message."""
    engine = cloud.service.repos.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE samples ADD CONSTRAINT no_666 CHECK (seq <> 666)"))
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_666 BEFORE INSERT ON samples WHEN NEW.seq = 666 "
                    "BEGIN SELECT RAISE(ABORT, 'no_666'); END"
                )
            )
    messages = [
        (contract.topic(f"dev-{i}", Channel.TELEMETRY), _telemetry(f"dev-{i}", seq))
        for i, seq in enumerate([1, 2, 666, 3, 4, 5, 6])
    ]
    await _publish(broker, messages)
    await wait_until(lambda: len(recent_dead_letters(engine)) == 1)
    stored = {f"dev-{i}": stored_seqs(engine, f"dev-{i}") for i in range(7)}
    assert stored == {
        "dev-0": [1], "dev-1": [2], "dev-2": [], "dev-3": [3],
        "dev-4": [4], "dev-5": [5], "dev-6": [6],
    }  # fmt: skip
    (letter,) = recent_dead_letters(engine)
    assert letter.topic == contract.topic("dev-2", Channel.TELEMETRY)
    assert "refused by the database" in letter.reason
    assert "no_666" in letter.reason
    assert cloud.service.ingest.stats.refused_by_database == 1


async def test_healthz_says_when_ingest_is_stalled(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    """A table lock held elsewhere (a long migration, a VACUUM FULL) blocks every insert:
    the database still answers, so only the stall tells the load balancer something is
    wrong; once the lock goes, the waiting messages are stored."""
    settings = cloud_settings(broker, database_url, tmp_path, ingest_stall_s=1.0)
    async with running_cloud(settings) as cloud:
        engine = cloud.service.repos.engine
        with engine.connect() as locker:
            transaction = locker.begin()
            if engine.dialect.name == "postgresql":
                locker.execute(text("LOCK TABLE samples IN ACCESS EXCLUSIVE MODE"))
            else:  # SQLite locks the whole file for the first writer
                locker.execute(
                    text(
                        "INSERT INTO dead_letters (received_at, topic, reason, "
                        "payload_size, payload_excerpt) VALUES (0, '', '', 0, '')"
                    )
                )
            await _publish(broker, [(contract.topic("d1", Channel.TELEMETRY), _telemetry("d1", 0))])
            await asyncio.sleep(0.5)
            await _publish(broker, [(contract.topic("d1", Channel.TELEMETRY), _telemetry("d1", 1))])
            await asyncio.sleep(1.5)
            async with cloud.client() as api:
                stalled = await api.get("/healthz")
            transaction.rollback()
        await wait_until(lambda: stored_seqs(engine, "d1") == [0, 1])
        settled = {"ingest": 0, "scoring": 0}
        for _ in range(50):  # stored, then scored: the backlog empties
            async with cloud.client() as api:
                recovered = await api.get("/healthz")
            if recovered.json()["backlog"] == settled:
                break
            await asyncio.sleep(0.1)
    assert stalled.status_code == 503, stalled.text
    assert stalled.json()["ingest"] is False
    assert stalled.json()["database"] is True
    assert stalled.json()["backlog"]["ingest"] == 2, "both messages wait for the lock"
    assert recovered.json()["backlog"] == settled
    assert stored_seqs(engine, "d1") == [0, 1]
    assert recovered.status_code == 200, recovered.text


async def test_a_cloud_for_registered_devices_only_keeps_nothing_of_a_made_up_device(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    """On a broker without logins anyone can publish as any id: with
    ``registered_devices_only`` the cloud stores only what factory devices send."""
    settings = cloud_settings(broker, database_url, tmp_path, registered_devices_only=True)
    batch = generate_batch("heatpump-hp200", 1)
    registered = batch.devices[0].device_id
    async with running_cloud(settings) as cloud:
        cloud.service.repos.factory.import_batch(FactoryBatch.model_validate_json(batch.to_json()))
        made_up = [f"ghost-{n}" for n in range(20)]
        await _publish(
            broker,
            [(contract.topic(d, Channel.TELEMETRY), _telemetry(d, 0)) for d in made_up]
            + [(contract.topic(registered, Channel.TELEMETRY), _telemetry(registered, 0))],
        )
        await wait_until(lambda: stored_seqs(cloud.service.repos.engine, registered) == [0])
        await wait_until(lambda: cloud.service.ingest.stats.unregistered == len(made_up), 5)
        engine = cloud.service.repos.engine
        with engine.connect() as conn:
            devices = set(conn.scalars(text("SELECT id FROM devices")))
            dead = conn.scalar(text("SELECT count(*) FROM dead_letters"))
    assert stored_seqs(engine, registered) == [0]
    assert devices == {registered}, "made-up ids create no device rows"
    assert dead == 0, "nor dead letters"
    assert cloud.service.ingest.stats.unregistered == len(made_up)
