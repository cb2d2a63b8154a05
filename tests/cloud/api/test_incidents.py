"""The incidents API: filters, evidence, and owners seeing only their devices'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.app import create_api
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.incidents.tracker import IncidentOpened, IncidentResolved
from cloud.ingest.triage import RawMessage, triage
from device_agent import contract
from device_agent.clock import SystemClock
from device_agent.contract import Channel
from tests.conftest import Broker, cloud_settings

T0 = 1_750_000_000.0


def _telemetry(device_id: str, n: int) -> RawMessage:
    samples = [contract.Sample(seq=i, ts=T0 + 60 * i, metrics={"t": 20.0 + i}) for i in range(n)]
    message = contract.TelemetryBatch(device_id=device_id, samples=samples)
    return RawMessage(contract.topic(device_id, Channel.TELEMETRY), contract.encode(message), T0)


@pytest.fixture
def repos(broker: Broker, database_url: str, tmp_path: Path) -> Iterator[Repositories]:
    settings = cloud_settings(broker, database_url, tmp_path)
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, SystemClock())


async def test_incidents_are_listed_filtered_and_scoped_to_owners(repos: Repositories) -> None:

    repos.telemetry.apply(triage([_telemetry("hp-1", 30), _telemetry("ev-1", 5)], 1e9))
    repos.telemetry.set_owner("hp-1", "alice")
    repos.incidents.record(
        [
            (
                IncidentOpened("hp-1", "overheat/compressor", T0 + 600, T0 + 480, 0.9, {"z": 8}),
                "heatpump-hp200",
            ),
            (
                IncidentOpened("ev-1", "sensor-stuck/voltage_v", T0 + 60, T0, 0.7, {}),
                "evcharger-ec11",
            ),
            (
                IncidentOpened("hp-1", "overheat/compressor", T0 + 700, T0 + 700, 1.0, {}),
                "heatpump-hp200",
            ),  # already open: not a second incident
        ]
    )
    repos.incidents.record(
        [(IncidentResolved("ev-1", "sensor-stuck/voltage_v", T0 + 900, 0.8), "evcharger-ec11")]
    )
    staff = repos.tokens.issue("service")
    alice = repos.tokens.issue("owner", owner_id="alice")
    transport = httpx.ASGITransport(
        app=create_api(repos, lambda: {"mqtt": True, "ingest": True, "scoring": True})
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        as_staff = {"Authorization": f"Bearer {staff}"}
        everything = (await api.get("/api/v1/incidents", headers=as_staff)).json()
        assert sorted(i["signature"] for i in everything) == [
            "overheat/compressor",
            "sensor-stuck/voltage_v",
        ]
        open_only = (
            await api.get("/api/v1/incidents", params={"status": "open"}, headers=as_staff)
        ).json()
        assert [i["device_id"] for i in open_only] == ["hp-1"]
        by_model = (
            await api.get("/api/v1/incidents", params={"model": "evcharger-ec11"}, headers=as_staff)
        ).json()
        assert by_model[0]["status"] == "resolved"
        assert by_model[0]["resolved_at"] is not None
        assert (
            await api.get("/api/v1/incidents", params={"status": "bogus"}, headers=as_staff)
        ).status_code == 422

        as_alice = {"Authorization": f"Bearer {alice}"}
        mine = (await api.get("/api/v1/incidents", headers=as_alice)).json()
        assert [i["device_id"] for i in mine] == ["hp-1"]
        detail = (await api.get(f"/api/v1/incidents/{mine[0]['id']}", headers=as_alice)).json()
        assert detail["explanation"] == {"z": 8}
        evidence_seqs = [p["seq"] for p in detail["evidence"]]
        assert evidence_seqs == list(range(0, 11))  # 10 min before the evidence to opening
        other = by_model[0]["id"]
        assert (await api.get(f"/api/v1/incidents/{other}", headers=as_alice)).status_code == 404
        assert (await api.get("/api/v1/incidents")).status_code == 401


async def test_the_pages_and_their_assets_are_served(repos: Repositories) -> None:
    transport = httpx.ASGITransport(
        app=create_api(repos, lambda: {"mqtt": True, "ingest": True, "scoring": True})
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        pages = {path: await client.get(path) for path in ("/", "/app", "/manufacturer")}
        script = await client.get("/static/common.js")
        missing = await client.get("/static/../cloud/settings.py")
    assert all(page.status_code == 200 for page in pages.values())
    assert "<title>Aftercare fleet</title>" in pages["/"].text
    assert all('src="/static/' in page.text for page in pages.values())
    assert script.status_code == 200
    assert 'API = "/api/v1"' in script.text
    assert missing.status_code == 404
