"""Support requests end to end, with a real broker, database, agent and cloud: an owner
files a request, the cloud's signed ``collect_diagnostics`` reaches the running agent,
and its redacted bundle is attached before the service team sees the request. Secrets
planted in the device's configuration and in its log never reach the cloud. A device
that is offline, or that never answers, gets the cloud's own summary instead."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cloud.db.schema import command_results, diagnostic_bundles
from cloud.heal.signing import CommandSigner
from tests.conftest import (
    Broker,
    RunningCloud,
    cloud_settings,
    running_cloud,
    running_fleet,
    small_fleet,
    stop_task,
    wait_until,
)

pytestmark = pytest.mark.e2e

PLANTED = {
    "wifi_psk": "PLANTED-psk-7Gq2xR",
    "api_key": "PLANTED-apikey-93kd",
    "owner_email": "planted.owner@example.org",
    "installer_phone": "+44 20 7946 0123",
}
LOGGED_SECRET = "PLANTED-logpass-55"


async def _owner(cloud: RunningCloud, device_id: str, owner_id: str = "alice") -> str:
    repos = cloud.service.repos
    await wait_until(lambda: repos.telemetry.get_device(device_id) is not None, 15)
    repos.telemetry.set_owner(device_id, owner_id)
    return repos.tokens.issue("owner", owner_id)


async def _file(api: httpx.AsyncClient, device_id: str) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/support",
        json={"device_id": device_id, "category": "noise", "description": "Loud humming at night"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "collecting"
    return body


async def _wait_attached(api: httpx.AsyncClient, request_id: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(300):
        body = (await api.get(f"/api/v1/support/{request_id}")).json()
        if body.get("diagnostics") != "pending":
            break
        await asyncio.sleep(0.05)
    return body


async def test_a_request_gets_the_devices_redacted_bundle_and_planted_secrets_stay_home(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    settings = cloud_settings(broker, database_url, tmp_path, support_poll_s=0.05)
    key = CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text
    fleet = small_fleet(broker, devices=1, command_key=key)
    (unit,) = fleet.units
    device_id = unit.agent.device_id
    unit.device.configure(**PLANTED)
    async with running_cloud(settings) as cloud, running_fleet(fleet):
        await fleet.wait_connected(15)
        logging.getLogger("aftercare.agent").warning(
            "device=%s broker refused login password=%s", device_id, LOGGED_SECRET
        )
        await wait_until(lambda: unit.agent.stats.samples_taken >= 5, 10)
        owner = await _owner(cloud, device_id)
        staff = cloud.service.repos.tokens.issue("service")
        async with cloud.client(owner) as mine, cloud.client(staff) as service:
            filed = await _file(mine, device_id)
            queue = (await service.get("/api/v1/support")).json()
            assert filed["id"] not in [r["id"] for r in queue], "not queued while collecting"
            detail = await _wait_attached(service, filed["id"])
            queue = (await service.get("/api/v1/support")).json()
            owner_view = (await mine.get(f"/api/v1/support/{filed['id']}")).text
            service_view = (await service.get(f"/api/v1/support/{filed['id']}")).text

    assert detail["diagnostics"] == "device", detail
    assert detail["status"] == "open"
    bundle = detail["bundle"]
    assert bundle["device_id"] == device_id
    assert bundle["request_id"] == str(filed["id"])
    assert bundle["firmware"] == unit.device.firmware
    assert bundle["telemetry"], "the recent telemetry summary"
    some = next(iter(bundle["telemetry"].values()))
    assert some["count"] >= 1
    assert some["min"] <= some["mean"] <= some["max"]
    config = bundle["config"]
    assert config["device.wifi_psk"] == "[redacted:secret]"
    assert config["device.api_key"] == "[redacted:secret]"
    assert config["device.owner_email"] == "[redacted:personal]"
    assert config["device.site_latitude"] == round(unit.device.config()["site_latitude"], 1)
    assert config["agent.telemetry_interval_s"] == 0.1, "harmless settings stay readable"
    assert any("password=[redacted:secret]" in line["message"] for line in bundle["errors"]), (
        bundle["errors"]
    )
    assert bundle["redacted"] >= len(PLANTED)
    assert [r["id"] for r in queue] == [filed["id"]]
    assert queue[0]["sla"]["first_response_overdue"] is False

    with cloud.service.repos.engine.connect() as conn:
        stored = conn.execute(select(diagnostic_bundles.c.bundle)).scalar_one()
        results = conn.execute(
            select(command_results.c.state, command_results.c.detail).where(
                command_results.c.device_id == device_id
            )
        ).all()
    stored_text = str(stored)
    for secret in [*PLANTED.values(), LOGGED_SECRET]:
        for where, text in (("database", stored_text), ("service", service_view)):
            assert secret not in text, f"{secret} reached the {where}"
            assert secret not in owner_view
    assert '"bundle":null' in owner_view.replace(" ", ""), "owners never get the raw bundle"
    assert [state for state, _ in results] == ["done"], "the command is reported like any"


async def test_an_offline_device_gets_the_clouds_summary_with_a_note(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    settings = cloud_settings(broker, database_url, tmp_path, support_poll_s=0.05)
    fleet = small_fleet(broker, devices=1)
    device_id = fleet.units[0].agent.device_id
    async with running_cloud(settings) as cloud:
        running = asyncio.create_task(fleet.run())
        await fleet.wait_connected(15)
        repos = cloud.service.repos
        await wait_until(lambda: len(repos.telemetry.telemetry(device_id)) >= 5, 10)
        await stop_task(running)  # a clean stop says goodbye: offline at once
        fleet.close()
        await wait_until(lambda: not repos.telemetry.get_device(device_id).online, 10)  # type: ignore[union-attr]
        owner = await _owner(cloud, device_id)
        staff = repos.tokens.issue("service")
        async with cloud.client(owner) as mine, cloud.client(staff) as service:
            filed = await _file(mine, device_id)
            detail = await _wait_attached(service, filed["id"])
            owner_view = (await mine.get(f"/api/v1/support/{filed['id']}")).json()
        assert cloud.service.support.stats.requested == 0, "no command to an offline device"
    assert detail["diagnostics"] == "cloud"
    assert detail["status"] == "open"
    assert "offline" in detail["diagnostics_note"]
    assert detail["bundle"] is None
    summary = detail["cloud_summary"]
    assert summary["device"]["online"] is False
    assert summary["telemetry"]["samples"] >= 5
    assert summary["telemetry"]["metrics"]
    assert owner_view["diagnostics"] == "cloud"
    assert owner_view["cloud_summary"] is None, "owners see the note, not the summary"
    assert "offline" in owner_view["diagnostics_note"]


async def test_a_device_that_never_answers_gets_the_summary_after_the_timeout(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    """A device without the cloud's key (or any that stays silent) refuses the command
    as not authentic; nothing arrives, and the timeout brings the cloud's summary."""
    settings = cloud_settings(
        broker, database_url, tmp_path, support_poll_s=0.05, support_diagnostics_timeout_s=1.5
    )
    fleet = small_fleet(broker, devices=1)  # no command key pinned
    (unit,) = fleet.units
    async with running_cloud(settings) as cloud, running_fleet(fleet):
        await fleet.wait_connected(15)
        staff = cloud.service.repos.tokens.issue("service")
        await wait_until(
            lambda: cloud.service.repos.telemetry.get_device(unit.agent.device_id) is not None
        )
        async with cloud.client(staff) as service:
            filed = await _file(service, unit.agent.device_id)
            detail = await _wait_attached(service, filed["id"])
        kinds = [kind for kind, _, _ in unit.agent.outbox.pending_reports()]
    assert detail["diagnostics"] == "cloud", detail
    assert "did not send diagnostics within 1.5 s" in detail["diagnostics_note"]
    assert unit.agent.stats.refused_commands == 1
    assert "diagnostics" not in kinds, "an unauthenticated command collects nothing"
