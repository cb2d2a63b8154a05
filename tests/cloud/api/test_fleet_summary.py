"""The service dashboard's API: the fleet summary's figures on a small known fleet, the
fix records' credible intervals, and an incident's baseline band."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.app import create_api
from cloud.db.incidents import IncidentFilter
from cloud.db.remediation import FixCounts
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.incidents.tracker import IncidentOpened, IncidentResolved
from cloud.ingest.triage import RawMessage, triage
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel

T0 = 1_767_225_600.0
"""2026-01-01 00:00 UTC: a whole hour, so hourly buckets start at T0 + k hours."""
HOUR = 3600.0
NOW = T0 + 5 * HOUR + 1800.0
HEALTHY = {"mqtt": True, "ingest": True, "scoring": True}


@pytest.fixture
def repos(database_url: str, tmp_path: Path) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, ManualClock(NOW))


@pytest.fixture
async def api(repos: Repositories) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    staff = {"Authorization": f"Bearer {repos.tokens.issue('service')}"}
    transport = httpx.ASGITransport(app=create_api(repos, lambda: HEALTHY))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, staff


def _telemetry(device_id: str, times: list[float], value: float = 20.0) -> RawMessage:
    samples = [
        contract.Sample(seq=i, ts=ts, metrics={"supply_temp_c": value + (i % 3) * 0.1})
        for i, ts in enumerate(times)
    ]
    message = contract.TelemetryBatch(device_id=device_id, samples=samples)
    return RawMessage(contract.topic(device_id, Channel.TELEMETRY), contract.encode(message), NOW)


def _status(device_id: str, model: str, online: bool) -> RawMessage:
    message = contract.Status(device_id=device_id, online=online, ts=NOW, model=model)
    return RawMessage(contract.topic(device_id, Channel.STATUS), contract.encode(message), NOW)


def _opened(device: str, signature: str, at: float) -> IncidentOpened:
    return IncidentOpened(device, signature, at, at - 120, 0.9, {})


async def test_the_summary_counts_devices_incidents_and_hourly_trends(
    repos: Repositories, api: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    every_10_min = [T0 + 600 * i for i in range(34)]  # 00:00 to 05:30
    repos.telemetry.apply(
        triage(
            [
                _telemetry("hp-1", every_10_min),
                _telemetry("hp-2", [T0 + 4 * HOUR + 60, T0 + 4 * HOUR + 120]),
                _telemetry("ev-1", [T0 - 2 * 86_400]),  # long ago: outside the day
                _status("hp-1", "heatpump-hp200", True),
                _status("hp-2", "heatpump-hp200", True),
                _status("ev-1", "evcharger-ec11", False),
            ],
            1e12,
        )
    )
    hp = "heatpump-hp200"
    repos.incidents.record(
        [
            (_opened("hp-1", "overheat/compressor", T0 + HOUR + 60), hp),
            (_opened("hp-2", "overheat/compressor", T0 + 4 * HOUR + 300), hp),
            (_opened("hp-2", "sensor-stuck/supply_temp_c", T0 + 4 * HOUR + 400), hp),
            (_opened("ev-1", "connectivity/flapping", T0 - 2 * 86_400), "evcharger-ec11"),
        ]
    )
    repos.incidents.record(
        [(IncidentResolved("hp-2", "sensor-stuck/supply_temp_c", T0 + 5 * HOUR, 0.9), hp)]
    )
    flapping = repos.incidents.find(IncidentFilter(signature="connectivity/flapping"))[0]
    repos.remediation.set_status(flapping.id, "escalated", T0, "every fix was tried")

    client, staff = api
    summary = (await client.get("/api/v1/fleet/summary", headers=staff)).json()

    assert (summary["devices"], summary["online"], summary["offline"]) == (3, 2, 1)
    assert summary["unresolved_incidents"] == 3  # two overheats open, one flapping escalated
    assert summary["models"] == [
        {"model": "evcharger-ec11", "devices": 1, "online": 0, "unresolved_incidents": 1},
        {"model": hp, "devices": 2, "online": 2, "unresolved_incidents": 2},
    ]
    assert summary["signatures"] == [
        {
            "signature": "overheat/compressor",
            "unresolved": 2,
            "open": 2,
            "mitigating": 0,
            "escalated": 0,
        },
        {
            "signature": "connectivity/flapping",
            "unresolved": 1,
            "open": 0,
            "mitigating": 0,
            "escalated": 1,
        },
    ]
    assert summary["bucket_s"] == HOUR
    trend = summary["trend"]
    assert len(trend) == 24
    assert trend[-1]["start"] == "2026-01-01T05:00:00Z"  # the hour now filling
    last_six = [(p["opened"], p["reporting"]) for p in trend[-6:]]
    assert last_six == [(0, 1), (1, 1), (0, 1), (0, 1), (2, 2), (0, 1)]
    assert all(p == {"opened": 0, "reporting": 0} for p in _counts(trend[:-6]))
    assert summary["now"] == "2026-01-01T05:30:00Z"
    assert summary["clock_speed"] == 1.0


def _counts(points: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{"opened": p["opened"], "reporting": p["reporting"]} for p in points]


async def test_the_summary_is_for_the_service_team_only(
    repos: Repositories, api: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, _ = api
    owner = {"Authorization": f"Bearer {repos.tokens.issue('owner', owner_id='alice')}"}
    assert (await client.get("/api/v1/fleet/summary", headers=owner)).status_code == 403
    week = await client.get("/api/v1/fleet/summary", params={"span": "week"}, headers=api[1])
    assert week.json()["bucket_s"] == 6 * HOUR
    assert len(week.json()["trend"]) == 28
    assert week.json()["devices"] == 0


async def test_fix_records_carry_the_beta_posterior_and_its_90_percent_interval(
    repos: Repositories, api: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    repos.remediation.save_counts(
        [
            FixCounts("heatpump-hp200", "overheat/compressor", "clean_filter", 1, 0),
            FixCounts("evcharger-ec11", "connectivity/flapping", "reset_radio", 8, 2),
        ]
    )
    client, staff = api
    records = {r["action"]: r for r in (await client.get("/api/v1/fixes", headers=staff)).json()}
    once = records["clean_filter"]  # Beta(2, 1): mean 2/3, quantiles sqrt(0.05), sqrt(0.95)
    assert once["success_rate"] == 1.0
    assert once["rate_mean"] == pytest.approx(2 / 3, abs=1e-4)
    assert once["rate_low"] == pytest.approx(0.2236, abs=1e-4)
    assert once["rate_high"] == pytest.approx(0.9747, abs=1e-4)
    often = records["reset_radio"]  # Beta(9, 3)
    assert often["rate_mean"] == pytest.approx(0.75, abs=1e-4)
    assert often["rate_low"] == pytest.approx(0.5299, abs=1e-3)
    assert often["rate_high"] == pytest.approx(0.9212, abs=1e-3)


async def test_an_incident_carries_its_anomaly_window_and_baseline_bands(
    repos: Repositories, api: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    minutes = [T0 + 60 * i for i in range(120)]
    values = [{"supply_temp_c": 40.0 + (i % 5) * 0.5, "current_a": 2.0} for i in range(120)]
    for i in range(100, 120):
        values[i]["supply_temp_c"] = 70.0  # the fault: the last twenty minutes
    samples = [contract.Sample(seq=i, ts=ts, metrics=values[i]) for i, ts in enumerate(minutes)]
    batch = contract.TelemetryBatch(device_id="hp-1", samples=samples)
    raw = RawMessage(contract.topic("hp-1", Channel.TELEMETRY), contract.encode(batch), NOW)
    repos.telemetry.apply(triage([raw], 1e12))
    fault_from = T0 + 100 * 60
    said = {"metric": "current_a", "value": 2.0, "normal_low": 1.5, "normal_high": 2.5}
    repos.incidents.record(
        [
            (
                IncidentOpened("hp-1", "anomaly/temp", fault_from + 300, fault_from, 1.0, {}),
                "heatpump-hp200",
            ),
            (
                IncidentOpened("hp-1", "overheat/x", fault_from + 300, fault_from, 1.0, said),
                "heatpump-hp200",
            ),
        ]
    )
    client, staff = api
    found = (await client.get("/api/v1/incidents", headers=staff)).json()
    ids = {i["signature"]: i["id"] for i in found}
    detail = (await client.get(f"/api/v1/incidents/{ids['anomaly/temp']}", headers=staff)).json()
    assert detail["anomaly_window"][0] == "2026-01-01T01:40:00Z"
    temp = detail["baseline"]["supply_temp_c"]
    # before the fault: 40.0 40.5 41.0 41.5 42.0 repeating: median 41, MAD 0.5
    assert temp["source"] == "history"
    assert temp["low"] == pytest.approx(41.0 - 3 * 1.4826 * 0.5)
    assert temp["high"] == pytest.approx(41.0 + 3 * 1.4826 * 0.5)
    assert detail["baseline"]["current_a"] == {"low": 2.0, "high": 2.0, "source": "history"}
    stated = (await client.get(f"/api/v1/incidents/{ids['overheat/x']}", headers=staff)).json()
    assert stated["baseline"]["current_a"] == {"low": 1.5, "high": 2.5, "source": "detector"}
