"""Campaigns end to end: a fix goes to a cohort canary first, batches follow, and a
rollout whose canary fails verification pauses itself until a person resumes or aborts
it (real broker, database, agents and cloud)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.heal.signing import CommandSigner
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.fleet import Fleet, FleetSpec
from tests.conftest import Broker, cloud_settings, running_cloud, running_fleet

pytestmark = pytest.mark.e2e

SPEED = 300.0
INTERVAL_S = 60.0


async def _until(api: httpx.AsyncClient, campaign_id: int, statuses: set[str]) -> dict[str, Any]:
    for _ in range(360):
        campaign: dict[str, Any] = (await api.get(f"/api/v1/campaigns/{campaign_id}")).json()
        if campaign["status"] in statuses:
            return campaign
        await asyncio.sleep(0.25)
    raise AssertionError(f"campaign {campaign_id} stayed {campaign['status']}: {campaign}")


@pytest.mark.timeout(300)
async def test_a_campaign_rolls_out_and_one_that_fails_its_canary_pauses(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    clock = ScaledClock(SystemClock().now(), SPEED)
    settings = cloud_settings(broker, database_url, tmp_path)
    key = CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text
    spec = FleetSpec(
        devices=8,
        mqtt_url=broker.url,
        models=["heatpump-hp200"],
        telemetry_interval_s=INTERVAL_S,
        flush_interval_s=0.1,
        ack_timeout_s=2.0,
        reconnect_max_s=1.0,
        seed=4,
        command_key=key,
    )
    fleet = Fleet(spec, clock)
    async with running_cloud(settings, clock) as cloud, running_fleet(fleet):
        token = cloud.service.repos.tokens.issue("service")
        async with cloud.client(token) as api:
            for _ in range(300):
                reported = len((await api.get("/api/v1/devices")).json())
                if reported == 8:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"only {reported} of 8 devices reported in")
            rollout = {
                "action": "restart_firmware",
                "cohort": {"model": "heatpump-hp200"},
                "verify": {"within_s": 300, "hold_s": 120},
                "canary_share": 0.125,
                "batch_size": 4,
                "pause_s": 60,
            }
            created = await api.post("/api/v1/campaigns", json=rollout)
            assert created.status_code == 201, created.text
            assert created.json()["progress"] == {"queued": 8}
            done = await _until(api, created.json()["id"], {"completed", "paused"})
            assert done["status"] == "completed", done
            assert done["progress"] == {"verified": 8}
            assert done["failure_rate_by_batch"] == [0.0, 0.0, 0.0]

            impossible = {
                **rollout,
                "verify": {
                    "within_s": 300,
                    "hold_s": 120,
                    "bounds": [{"metric": "supply_temp_c", "max": -40}],
                },
            }
            created = await api.post("/api/v1/campaigns", json=impossible)
            paused = await _until(api, created.json()["id"], {"paused", "completed"})
            assert paused["status"] == "paused"
            assert "failed verification on 100%" in paused["reason"]
            assert paused["progress"] == {"failed": 1, "queued": 7}, "only the canary was touched"
            resumed = await api.post(f"/api/v1/campaigns/{paused['id']}/resume")
            assert resumed.json()["status"] == "running"
            await asyncio.sleep(1.0)
            aborted = (await api.post(f"/api/v1/campaigns/{paused['id']}/abort")).json()
            assert aborted["status"] == "aborted"
            assert (await api.post(f"/api/v1/campaigns/{paused['id']}/resume")).status_code == 409
            empty = await api.post(
                "/api/v1/campaigns", json={**rollout, "cohort": {"model": "no-such-model"}}
            )
            assert empty.status_code == 422
