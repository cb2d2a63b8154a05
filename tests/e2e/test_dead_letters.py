"""Bad payloads end up as dead letters with their reasons; ingest carries on."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from device_agent import contract
from device_agent.contract import Channel
from device_agent.settings import parse_mqtt_url
from tests.audit import recent_dead_letters, stored_seqs
from tests.conftest import Broker, RunningCloud

pytestmark = pytest.mark.e2e

NOW = 1_750_000_000.0


async def test_malformed_messages_become_dead_letters_and_ingest_continues(
    broker: Broker, cloud: RunningCloud
) -> None:
    good = contract.TelemetryBatch(
        device_id="dev-1", samples=[contract.Sample(seq=0, ts=NOW, metrics={"t": 1.0})]
    )
    wrong_types = json.loads(contract.encode(good))
    wrong_types["samples"][0]["seq"] = "first"
    bad = [
        (contract.topic("dev-1", Channel.TELEMETRY), b'{"v": 1, "device_id": "dev-1", '),
        (contract.topic("dev-1", Channel.TELEMETRY), json.dumps(wrong_types).encode()),
        (contract.topic("dev-1", Channel.EVENTS), b"{" + b" " * 300_000 + b"}"),
        (contract.topic("dev-2", Channel.TELEMETRY), contract.encode(good)),
    ]
    host, port = parse_mqtt_url(broker.url)
    async with aiomqtt.Client(host, port, identifier="troublemaker") as client:
        for topic_name, payload in bad:
            await client.publish(topic_name, payload, qos=1)
        await client.publish(
            contract.topic("dev-1", Channel.TELEMETRY), contract.encode(good), qos=1
        )

    store = cloud.service.repos.telemetry
    for _ in range(100):
        if stored_seqs(store.engine, "dev-1") == [0] and len(
            recent_dead_letters(store.engine)
        ) == len(bad):
            break
        await asyncio.sleep(0.1)
    assert stored_seqs(store.engine, "dev-1") == [0]
    letters = {letter.reason: letter for letter in recent_dead_letters(store.engine)}
    reasons = " | ".join(letters)
    assert "Invalid JSON" in reasons
    assert "samples.0.seq: Input should be a valid integer" in reasons
    assert "exceeds" in reasons
    assert "differs from topic device 'dev-2'" in reasons
    assert all(letter.topic.startswith("aftercare/v1/") for letter in letters.values())
    assert cloud.service.ingest.stats.dead_letters == len(bad)
