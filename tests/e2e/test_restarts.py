"""Crashes and restarts lose no telemetry and duplicate none: every seq each device
produced ends up stored exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cloud.db.schema import samples
from cloud.db.telemetry import TelemetryStore
from firmware_sim.fleet import Fleet
from tests.audit import stored_seqs
from tests.conftest import (
    Broker,
    MosquittoBroker,
    cloud_settings,
    drain,
    running_cloud,
    running_fleet,
    small_fleet,
)

pytestmark = pytest.mark.e2e


def assert_every_seq_stored_once(store: TelemetryStore, fleet: Fleet) -> None:
    total = 0
    for unit in fleet.units:
        taken = unit.agent.stats.samples_taken
        assert taken > 20, "the fleet should have produced a fair amount of telemetry"
        assert stored_seqs(store.engine, unit.agent.device_id) == list(range(taken))
        total += taken
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(samples)) == total


async def test_broker_killed_and_restarted_mid_run_loses_nothing(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    if not isinstance(broker, MosquittoBroker):
        pytest.fail("this test needs Mosquitto (apt-get install mosquitto)")
    settings = cloud_settings(broker, database_url, tmp_path)
    async with running_cloud(settings) as cloud:
        fleet = small_fleet(broker, devices=5)
        async with running_fleet(fleet):
            await fleet.wait_connected(15)
            await asyncio.sleep(2)
            broker.kill()
            await asyncio.sleep(2)  # agents keep sampling into their outboxes meanwhile
            broker.start()
            await fleet.wait_connected(20)
            await asyncio.sleep(2)
            await drain(fleet, timeout_s=60)
            assert_every_seq_stored_once(cloud.service.repos.telemetry, fleet)
            assert sum(u.agent.stats.connects for u in fleet.units) >= 10


async def test_cloud_restarted_mid_run_loses_nothing(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    settings = cloud_settings(broker, database_url, tmp_path)
    fleet = small_fleet(broker, devices=5)
    async with running_fleet(fleet):
        async with running_cloud(settings) as cloud:
            await fleet.wait_connected(15)
            await asyncio.sleep(2)
        await asyncio.sleep(2)  # the cloud is down; devices keep publishing
        async with running_cloud(settings) as cloud:
            await asyncio.sleep(1)
            await drain(fleet, timeout_s=60)
            assert_every_seq_stored_once(cloud.service.repos.telemetry, fleet)
