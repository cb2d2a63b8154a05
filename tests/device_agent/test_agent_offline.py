"""An agent that loses its link keeps sampling into its outbox and, on reconnect, drains
it to the cloud in order."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from device_agent import contract
from device_agent.contract import Channel, TelemetryBatch
from device_agent.settings import parse_mqtt_url
from tests.audit import stored_seqs
from tests.conftest import Broker, RunningCloud, drain, running_fleet, small_fleet

pytestmark = pytest.mark.e2e


async def _record_first_sends(broker: Broker, seen: list[int], ready: asyncio.Event) -> None:
    host, port = parse_mqtt_url(broker.url)
    async with aiomqtt.Client(host, port, identifier="observer") as client:
        await client.subscribe(contract.subscription(Channel.TELEMETRY), qos=1)
        ready.set()
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            batch = contract.decode(str(message.topic), message.payload)
            assert isinstance(batch, TelemetryBatch)
            seen.extend(s.seq for s in batch.samples if s.seq not in seen)


async def test_outbox_drains_in_order_after_an_offline_spell(
    broker: Broker, cloud: RunningCloud
) -> None:
    seen: list[int] = []
    ready = asyncio.Event()
    observer = asyncio.create_task(_record_first_sends(broker, seen, ready))
    await ready.wait()
    fleet = small_fleet(broker, devices=1)
    unit = fleet.units[0]
    unit.agent.link.set(False)
    async with running_fleet(fleet):
        fleet._follow_links = _never  # type: ignore[method-assign]
        await asyncio.sleep(1.5)
        assert not unit.agent.connected.is_set()
        assert len(unit.agent.outbox) >= 10, "samples pile up while offline"
        unit.agent.link.set(True)
        await drain(fleet)
    observer.cancel()
    await asyncio.gather(observer, return_exceptions=True)
    taken = unit.agent.stats.samples_taken
    assert seen == list(range(taken))
    assert stored_seqs(cloud.service.repos.engine, unit.agent.device_id) == list(range(taken))


async def test_a_full_outbox_drops_the_oldest_and_the_cloud_learns_how_many(
    broker: Broker, cloud: RunningCloud
) -> None:
    fleet = small_fleet(broker, devices=1, outbox_max_samples=5)
    unit = fleet.units[0]
    unit.agent.link.set(False)
    async with running_fleet(fleet):
        fleet._follow_links = _never  # type: ignore[method-assign]
        await asyncio.sleep(1.5)
        dropped = unit.agent.outbox.dropped_total
        assert dropped > 0
        unit.agent.link.set(True)
        await drain(fleet)
    device = cloud.service.repos.telemetry.get_device(unit.agent.device_id)
    assert device is not None
    assert device.dropped_total >= dropped
    stored = stored_seqs(cloud.service.repos.engine, unit.agent.device_id)
    assert stored == list(range(stored[0], unit.agent.stats.samples_taken))


async def _never() -> None:
    await asyncio.Event().wait()
