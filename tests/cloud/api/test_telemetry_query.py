"""What the charts ask of GET /devices/{id}/telemetry: the newest points first, and a
long window downsampled on the server to a few hundred buckets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.app import create_api
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.ingest.triage import RawMessage, triage
from device_agent import contract
from device_agent.clock import SystemClock
from device_agent.contract import Channel
from tests.conftest import Broker, cloud_settings

T0 = 1_749_999_600.0
"""A multiple of 3600: hour buckets start at T0."""
MINUTES = 7 * 24 * 60


@pytest.fixture
def repos(broker: Broker, database_url: str, tmp_path: Path) -> Iterator[Repositories]:
    settings = cloud_settings(broker, database_url, tmp_path)
    with open_database(database_url) as engine:
        repos = build_repositories(engine, settings, SystemClock())
        batches = []
        for first in range(0, MINUTES, 500):
            samples = [
                contract.Sample(seq=i, ts=T0 + 60 * i, metrics={"t": float(i % 60), "p": 1.0})
                for i in range(first, min(first + 500, MINUTES))
            ]
            message = contract.TelemetryBatch(device_id="hp-1", samples=samples)
            topic = contract.topic("hp-1", Channel.TELEMETRY)
            batches.append(RawMessage(topic, contract.encode(message), T0))
        repos.telemetry.apply(triage(batches, 1e9))
        yield repos


@pytest.fixture
async def api(repos: Repositories) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(repos, lambda: {"mqtt": True, "ingest": True, "scoring": True})
    token = repos.tokens.issue("service")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test/api/v1",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


async def test_order_desc_gives_the_newest_points_first(api: httpx.AsyncClient) -> None:
    newest = (await api.get("/devices/hp-1/telemetry", params={"limit": 2, "order": "desc"})).json()
    assert [p["seq"] for p in newest["points"]] == [MINUTES - 1, MINUTES - 2]
    oldest = (await api.get("/devices/hp-1/telemetry", params={"limit": 2})).json()
    assert [p["seq"] for p in oldest["points"]] == [0, 1]


async def test_a_week_of_minute_samples_is_one_request_of_a_few_hundred_buckets(
    api: httpx.AsyncClient,
) -> None:
    params = {"since": T0, "until": T0 + MINUTES * 60, "bucket": "30m", "metric": "t"}
    body = (await api.get("/devices/hp-1/telemetry", params=params)).json()
    assert body["bucket_s"] == 1800.0
    assert body["points"] == []
    assert len(body["buckets"]) == 336
    first = body["buckets"][0]
    assert first["count"] == 30
    assert first["metrics"] == {"t": {"min": 0.0, "mean": 14.5, "max": 29.0}}
    assert sum(b["count"] for b in body["buckets"]) == MINUTES


async def test_without_since_a_bucketed_request_ends_at_the_newest_sample(
    api: httpx.AsyncClient,
) -> None:
    params = {"bucket": "1h", "limit": 3, "order": "desc"}
    body = (await api.get("/devices/hp-1/telemetry", params=params)).json()
    starts = [b["start"] for b in body["buckets"]]
    assert len(starts) == 3
    assert starts == sorted(starts, reverse=True)
    assert body["buckets"][0]["count"] == 60
    assert body["buckets"][0]["metrics"]["t"]["max"] == 59.0


async def test_a_bad_bucket_width_is_refused_in_words(api: httpx.AsyncClient) -> None:
    answer = await api.get("/devices/hp-1/telemetry", params={"bucket": "5 minutes"})
    assert answer.status_code == 422
    assert "bucket" in answer.text
