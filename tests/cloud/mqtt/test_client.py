"""The cloud's broker session hears every device-to-cloud channel, on Mosquitto and on the
embedded broker the demo runs (which once delivered telemetry only)."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from cloud.mqtt.broker import EmbeddedBroker
from cloud.mqtt.client import CloudMqttClient
from device_agent import contract
from device_agent.settings import parse_mqtt_url
from tests.conftest import Broker, wait_until

pytestmark = pytest.mark.e2e


async def _hears_every_channel(url: str) -> None:
    heard: list[str] = []
    client = CloudMqttClient(url, "ingest-test", "aftercare-ingest", lambda t, _p: heard.append(t))
    client.start()
    try:
        assert client.wait_connected(10)
        await asyncio.sleep(0.5)  # the subscriptions are sent on connect
        host, port = parse_mqtt_url(url)
        async with aiomqtt.Client(host, port, identifier="dev-1") as device:
            for channel in contract.DEVICE_TO_CLOUD:
                await device.publish(contract.topic("dev-1", channel), b"{}", qos=1)
            await wait_until(lambda: len(heard) == len(contract.DEVICE_TO_CLOUD), 10)
    finally:
        client.stop()
    assert sorted(heard) == sorted(contract.topic("dev-1", c) for c in contract.DEVICE_TO_CLOUD)


async def test_the_cloud_hears_every_channel_on_mosquitto(broker: Broker) -> None:
    await _hears_every_channel(broker.url)


async def test_the_cloud_hears_every_channel_on_the_embedded_broker() -> None:
    with EmbeddedBroker() as broker:
        await asyncio.sleep(0.2)
        await _hears_every_channel(broker.url)
