"""A simulated fleet through a real broker into the cloud, seen through the HTTP API."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Broker, RunningCloud, drain, running_fleet, small_fleet

pytestmark = pytest.mark.e2e


async def test_every_device_is_online_with_telemetry_and_owners_see_only_theirs(
    broker: Broker, cloud: RunningCloud
) -> None:
    fleet = small_fleet(broker, devices=6)
    service_token = cloud.service.repos.tokens.issue("service")
    alice = cloud.service.repos.tokens.issue("owner", owner_id="alice")
    async with running_fleet(fleet):
        await fleet.wait_connected(15)
        await asyncio.sleep(1.5)
        await drain(fleet)
        alices, others = fleet.device_ids[:2], fleet.device_ids[2:]
        for device_id in alices:
            cloud.service.repos.telemetry.set_owner(device_id, "alice")

        async with cloud.client(service_token) as api:
            devices = (await api.get("/api/v1/devices")).json()
            assert sorted(d["id"] for d in devices) == sorted(fleet.device_ids)
            assert all(d["online"] for d in devices)
            assert {d["model"] for d in devices} == {"heatpump-hp200", "evcharger-ec11"}
            for device_id in fleet.device_ids:
                points = (await api.get(f"/api/v1/devices/{device_id}/telemetry")).json()["points"]
                taken = fleet.unit(device_id).agent.stats.samples_taken
                assert [p["seq"] for p in points] == list(range(taken))
            one = (
                await api.get(
                    f"/api/v1/devices/{alices[0]}/telemetry",
                    params={"metric": "mem_free_kb", "limit": 3},
                )
            ).json()
            assert len(one["points"]) == 3
            assert all(list(p["metrics"]) == ["mem_free_kb"] for p in one["points"])

        async with cloud.client(alice) as api:
            mine = (await api.get("/api/v1/devices")).json()
            assert sorted(d["id"] for d in mine) == sorted(alices)
            assert (await api.get(f"/api/v1/devices/{others[0]}")).status_code == 404
            assert (await api.get(f"/api/v1/devices/{others[0]}/telemetry")).status_code == 404
            assert (await api.get(f"/api/v1/devices/{alices[0]}")).status_code == 200

        async with cloud.client() as anonymous:
            assert (await anonymous.get("/api/v1/devices")).status_code == 401
        async with cloud.client("not-a-token") as forged:
            assert (await forged.get("/api/v1/devices")).status_code == 401


async def test_a_device_that_goes_away_is_shown_offline(
    broker: Broker, cloud: RunningCloud
) -> None:
    fleet = small_fleet(broker, devices=2)
    token = cloud.service.repos.tokens.issue("service")
    async with running_fleet(fleet):
        await fleet.wait_connected(15)
        lost = fleet.units[0]
        lost.agent.link.set(False)  # the session drops without a clean goodbye: Last Will
        async with cloud.client(token) as api:
            for _ in range(100):
                devices = {d["id"]: d for d in (await api.get("/api/v1/devices")).json()}
                if lost.agent.device_id in devices and not devices[lost.agent.device_id]["online"]:
                    break
                await asyncio.sleep(0.1)
            assert devices[lost.agent.device_id]["online"] is False
            assert devices[fleet.units[1].agent.device_id]["online"] is True
