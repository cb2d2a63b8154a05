"""The telemetry path under the faults a fleet meets, with the fleet sampling throughout:
the broker SIGKILLed and restarted, the cloud restarted, PostgreSQL crashed and brought
back. After each, every sample taken before recovery must be stored within a bound stated
in telemetry intervals; at the end, every seq is stored exactly once, every agent is
connected and every worker alive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from firmware_sim.fleet import Fleet
from tests.audit import all_stored_seqs, stored_seqs
from tests.conftest import (
    Broker,
    MosquittoBroker,
    PrivatePostgres,
    RunningCloud,
    cloud_settings,
    running_cloud,
    running_fleet,
    small_fleet,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BOUND_INTERVALS = 150
"""Samples taken before a fault ended are all stored within this many telemetry intervals
of its end (reconnect backoff, a broker or database coming up, one ack timeout)."""


async def _gap_closed(fleet: Fleet, cloud: RunningCloud) -> float:
    """Intervals until every sample taken up to now is stored; fails past the bound."""
    interval_s = fleet.spec.telemetry_interval_s
    start = time.monotonic()
    taken = {u.agent.device_id: u.agent.stats.samples_taken for u in fleet.units}
    engine = cloud.service.repos.engine
    while True:
        waited = (time.monotonic() - start) / interval_s
        try:
            missing = {
                device: len(set(range(n)) - set(stored_seqs(engine, device)))
                for device, n in taken.items()
            }
        except Exception:  # the database itself may still be coming back
            missing = {"database": 1}
        if not any(missing.values()):
            return waited
        assert waited < BOUND_INTERVALS, f"still missing after {waited:.0f} intervals: {missing}"
        await asyncio.sleep(0.1)


async def _already_happened() -> None:
    """The fault (the cloud being down) is over by the time it is measured."""


async def _health(cloud: RunningCloud) -> tuple[int, dict[str, object]]:
    async with cloud.client() as api:
        response = await api.get("/healthz")
    return response.status_code, response.json()


async def test_the_fleet_loses_nothing_through_broker_cloud_and_database_failures(
    broker: Broker, private_postgres: PrivatePostgres | None, database_url: str, tmp_path: Path
) -> None:
    if not isinstance(broker, MosquittoBroker):
        pytest.fail("this test needs Mosquitto (apt-get install mosquitto)")
    url = private_postgres.url if private_postgres is not None else database_url
    settings = cloud_settings(broker, url, tmp_path, db_retry_max_s=1.0)
    fleet = small_fleet(broker, devices=5)
    closed: dict[str, float] = {}

    async def fault(name: str, cloud: RunningCloud, act: Callable[[], Awaitable[None]]) -> None:
        await act()
        closed[name] = await _gap_closed(fleet, cloud)

    async with running_fleet(fleet):
        async with running_cloud(settings) as cloud:
            await fleet.wait_connected(15)
            await asyncio.sleep(1)

            async def broker_crash() -> None:
                broker.kill()
                await asyncio.sleep(3)
                broker.start()

            await fault("broker SIGKILL, 3 s down", cloud, broker_crash)

            if private_postgres is not None:

                async def database_crash() -> None:
                    private_postgres.stop("immediate")
                    await asyncio.sleep(1.5)
                    status, body = await _health(cloud)
                    assert status == 503, body
                    assert body["database"] is False
                    await asyncio.sleep(1.5)
                    private_postgres.start()

                await fault("PostgreSQL crash, 3 s down", cloud, database_crash)

        await asyncio.sleep(2)  # the cloud is down; the fleet keeps sampling
        async with running_cloud(settings) as cloud:
            await fault("cloud restart, 2 s down", cloud, _already_happened)
            await fleet.wait_connected(10)
            status, body = await _health(cloud)
            assert status == 200, body
            assert body["ingest"] is True
            assert body["scoring"] is True
            stored = all_stored_seqs(cloud.service.repos.engine)
    assert set(stored) == {u.agent.device_id for u in fleet.units}, "no rows of other devices"
    for unit in fleet.units:
        seqs = stored[unit.device.device_id]
        assert seqs == list(range(len(seqs))), "every seq stored exactly once: no holes"
        assert len(seqs) > 100
    assert all(u.agent.stats.session_errors == 0 for u in fleet.units)
    print(
        "gap closed (telemetry intervals): " + ", ".join(f"{k}: {v:.0f}" for k, v in closed.items())
    )
