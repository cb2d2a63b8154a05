"""The owner app's own reads through the real API on a real database: the owner's
devices (one still in its box too), and each device's health in plain words from its
setup and outreach; another owner's device is 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.notify.worker import DeliveryWorker
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from firmware_sim.factory import generate_batch
from tests.cloud.api.test_claims import T0, api, bearer, import_batch, sign_up
from tests.cloud.api.test_outreach import owner_id_of
from tests.cloud.api.test_setup import self_check
from tests.cloud.notify.test_delivery import draft


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


async def test_owner_devices_and_their_health_in_plain_words(
    repos: Repositories, clock: ManualClock
) -> None:
    batch = generate_batch("evcharger-ec11", 2)
    mine, theirs = batch.devices
    await import_batch(repos, batch)
    async with api(repos) as client:
        alice_token = await sign_up(client, "alice@example.com")
        alice = bearer(alice_token)
        bob = bearer(await sign_up(client, "bob@example.com"))
        for who, device in ((alice, mine), (bob, theirs)):
            claimed = await client.post(
                "/api/v1/claims", json={"claim_code": device.claim_code}, headers=who
            )
            assert claimed.status_code == 201

        listed = (await client.get("/api/v1/owners/me/devices", headers=alice)).json()
        assert [(d["id"], d["name"], d["reported"], d["online"]) for d in listed] == [
            (mine.device_id, "EV charger", False, None)
        ]
        assert (await client.get("/api/v1/devices", headers=alice)).json() == []

        url = f"/api/v1/devices/{mine.device_id}/health"
        boxed = (await client.get(url, headers=alice)).json()
        assert boxed["state"] == "needs_you"
        assert boxed["headline"] == "Your EV charger has not been in touch yet."
        assert "Wi-Fi" in boxed["advice"]
        assert (await client.get(url, headers=bob)).status_code == 404
        assert (await client.get(url)).status_code == 401
        assert (await client.get("/api/v1/devices/nope/health", headers=alice)).status_code == 404
        staff = bearer(repos.tokens.issue("service"))
        assert (await client.get(url, headers=staff)).status_code == 200
        assert (await client.get("/api/v1/owners/me/devices", headers=staff)).status_code == 403

        self_check(repos, mine.device_id, T0 + 60, placement="no protective earth detected")
        failing = (await client.get(url, headers=alice)).json()
        assert failing["state"] == "needs_you"
        assert "“Charger installed safely” did not pass" in failing["headline"]
        assert "earth" in failing["advice"]

        self_check(repos, mine.device_id, T0 + 120)
        alice_id = owner_id_of(repos, alice_token)
        repos.outreach.add(draft(alice_id, mine.device_id, clock))
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
        offered = (await client.get(url, headers=alice)).json()
        assert offered["state"] == "needs_service"
        assert offered["headline"] == (
            "Your EV charger needs a service visit: a part is wearing out. "
            "We have asked you to pick a time."
        )
        assert offered["events"][0]["text"] == (
            "We told you a part is wearing out and asked you to pick a time for a visit."
        )
        assert offered["events"][0]["at"].endswith("Z")
        assert "/" not in str(offered), "no signatures in an owner's story"
