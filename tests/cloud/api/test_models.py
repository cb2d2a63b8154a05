"""/api/v1/models: service tokens train and list; owners are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from cloud.api.app import create_api
from cloud.db.repositories import build_repositories, open_database
from cloud.db.tokens import TokenStore
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from tests.cloud.learning.fleet_data import MODEL, T0, store_fleet


class Api:
    def __init__(self, engine: Engine, client: httpx.AsyncClient, tokens: TokenStore) -> None:
        self.engine = engine
        self.client = client
        self.service = {"Authorization": f"Bearer {tokens.issue('service')}"}
        self.owner = {"Authorization": f"Bearer {tokens.issue('owner', owner_id='o1')}"}


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = CloudSettings(
        database_url=database_url,
        model_dir=str(tmp_path),
        train_window_s=86_400,
        train_min_span_s=0,
    )
    with open_database(database_url) as engine:
        repos = build_repositories(engine, settings, ManualClock(T0 + 3_000))
        transport = httpx.ASGITransport(
            app=create_api(repos, lambda: {"mqtt": True, "ingest": True, "scoring": True})
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as api:
            yield Api(engine, api, repos.tokens)


async def test_service_trains_on_demand_and_lists_latest_versions(api: Api) -> None:
    cold = await api.client.post(f"/models/{MODEL}/train", headers=api.service)
    assert cold.status_code == 409
    assert "not enough history" in cold.json()["detail"]
    assert (await api.client.get("/models", headers=api.service)).json() == []

    store_fleet(api.engine, devices_n=5, per_device=200)
    trained = await api.client.post(f"/models/{MODEL}/train", headers=api.service)
    assert trained.status_code == 201, trained.text
    body = trained.json()
    assert (body["version"], body["samples"], body["devices"]) == (1, 1000, 5)
    assert set(body["thresholds"]) >= {"t2", "spe", "quantile"}
    again = await api.client.post(f"/models/{MODEL}/train", headers=api.service)
    assert again.json()["version"] == 2

    listed = (await api.client.get("/models", headers=api.service)).json()
    assert [(m["device_model"], m["version"], m["n_devices"]) for m in listed] == [(MODEL, 2, 5)]
    assert listed[0]["metrics"] == ["connector_temp", "current", "humidity", "power"]
    assert "path" not in listed[0]
    versions = (await api.client.get(f"/models/{MODEL}", headers=api.service)).json()
    assert [v["version"] for v in versions] == [1, 2]
    missing = await api.client.get("/models/nope", headers=api.service)
    assert missing.status_code == 404


async def test_owner_tokens_are_forbidden_and_anonymous_callers_unauthorised(api: Api) -> None:
    store_fleet(api.engine, devices_n=5, per_device=200)
    for method, url in [("GET", "/models"), ("POST", f"/models/{MODEL}/train")]:
        forbidden = await api.client.request(method, url, headers=api.owner)
        assert forbidden.status_code == 403
        assert forbidden.json()["detail"] == "a service token is required"
        assert (await api.client.request(method, url)).status_code == 401
    assert (await api.client.get("/models", headers=api.service)).json() == []
