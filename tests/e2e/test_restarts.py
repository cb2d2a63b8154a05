"""Crashes and restarts lose no telemetry and duplicate none: every seq each device
produced ends up stored exactly once."""

from __future__ import annotations

import asyncio
import time
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


GAP_BOUND_INTERVALS = 100
"""After a broker outage, every sample taken before the broker came back must be stored
within this many telemetry intervals (reconnect backoff + one ack timeout + a flush fit
well inside it), while the fleet keeps sampling: a live fleet never stops to drain."""


async def test_the_gap_of_a_broker_outage_closes_while_the_fleet_keeps_sampling(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    if not isinstance(broker, MosquittoBroker):
        pytest.fail("this test needs Mosquitto (apt-get install mosquitto)")
    settings = cloud_settings(broker, database_url, tmp_path)
    async with running_cloud(settings) as cloud:
        fleet = small_fleet(broker, devices=5)
        interval_s = fleet.spec.telemetry_interval_s
        engine = cloud.service.repos.engine
        async with running_fleet(fleet):
            await fleet.wait_connected(15)
            await asyncio.sleep(2)
            broker.kill()
            await asyncio.sleep(3)
            broker.start()
            restarted = time.monotonic()
            taken = {u.agent.device_id: u.agent.stats.samples_taken for u in fleet.units}
            while True:
                missing = {
                    device_id: len(set(range(n)) - set(stored_seqs(engine, device_id)))
                    for device_id, n in taken.items()
                }
                waited = (time.monotonic() - restarted) / interval_s
                if not any(missing.values()):
                    break
                assert waited < GAP_BOUND_INTERVALS, f"still missing after {waited:.0f}: {missing}"
                await asyncio.sleep(0.2)
            print(f"gap closed {waited:.0f} intervals after the broker came back")
            for unit in fleet.units:
                assert unit.agent.stats.samples_taken > taken[unit.agent.device_id] + 20


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
