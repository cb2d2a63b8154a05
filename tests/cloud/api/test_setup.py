"""Guided setup through the real API on a real database: self-check events stored by
ingest tick the device's steps, owners tick their own, see only their own devices' setup,
failures and stalls bring help and then support items, and the funnel counts the fleet."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.ingest.triage import RawMessage, triage
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel, Scalar
from firmware_sim.factory import generate_batch
from tests.cloud.api.test_claims import PASSWORD, T0, api, bearer, import_batch, sign_up

CHECKS = ("network", "firmware_current", "sensor_selftest", "calibration", "placement")
OWNER_STEPS = ("owner_preferences", "warranty_registration")
HOUR = 3600.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


def self_check(repos: Repositories, device_id: str, ts: float, **failing: str) -> None:
    """The device reports a self-check run, stored as ingest stores it."""
    detail: dict[str, Scalar] = {"trigger": "first_boot"}
    detail.update({c: f"failed: {failing[c]}" if c in failing else "ok" for c in CHECKS})
    event = contract.Event(
        device_id=device_id,
        event_id=uuid.uuid4().hex,
        kind="setup.self_check",
        ts=ts,
        detail=detail,
    )
    raw = RawMessage(contract.topic(device_id, Channel.EVENTS), contract.encode(event), ts)
    repos.telemetry.apply(triage([raw], ts))


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    """A new token for an existing account (an owner's token lasts an hour)."""
    answer = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def steps(body: dict[str, object]) -> dict[str, str]:
    return {s["id"]: s["state"] for s in body["steps"]}  # type: ignore[attr-defined, index]


async def test_owner_setup_device_steps_tick_themselves_and_owners_are_isolated(
    repos: Repositories, clock: ManualClock
) -> None:
    batch = generate_batch("evcharger-ec11", 3)
    mine, theirs, fresh = (d.device_id for d in batch.devices)
    await import_batch(repos, batch)
    staff = bearer(repos.tokens.issue("service"))
    async with api(repos) as client:
        alice = bearer(await sign_up(client, "alice@example.com"))
        bob = bearer(await sign_up(client, "bob@example.com"))
        for who, device in ((alice, batch.devices[0]), (bob, batch.devices[1])):
            claimed = await client.post(
                "/api/v1/claims", json={"claim_code": device.claim_code}, headers=who
            )
            assert claimed.status_code == 201

        # claimed but silent: every step waits
        quiet = (await client.get(f"/api/v1/devices/{mine}/setup", headers=alice)).json()
        assert quiet["activated"] is False
        assert steps(quiet) == {
            **dict.fromkeys(CHECKS, "pending"),
            **dict.fromkeys(OWNER_STEPS, "needs_owner"),
        }
        assert set(quiet["steps"][0]) >= {"id", "title", "state", "verified_by", "help"}

        self_check(repos, mine, T0 + 60)
        body = (await client.get(f"/api/v1/devices/{mine}/setup", headers=alice)).json()
        assert steps(body) == {
            **dict.fromkeys(CHECKS, "done"),
            **dict.fromkeys(OWNER_STEPS, "needs_owner"),
        }
        warranty = next(s for s in body["steps"] if s["id"] == "warranty_registration")
        assert warranty["verified_by"] == "owner"
        assert warranty["instructions"]
        assert warranty["next_action"] == "Register warranty"

        # isolation: another owner's device is not there; service sees it; nobody else ticks
        for path in (f"/api/v1/devices/{mine}/setup", "/api/v1/devices/nope/setup"):
            assert (await client.get(path, headers=bob)).status_code == 404
        assert (await client.get(f"/api/v1/devices/{mine}/setup", headers=staff)).status_code == 200
        assert (await client.get(f"/api/v1/devices/{fresh}/setup", headers=bob)).status_code == 404
        tick = f"/api/v1/devices/{mine}/setup/warranty_registration"
        assert (await client.post(tick, headers=bob)).status_code == 404
        assert (await client.post(tick, headers=staff)).status_code == 403
        assert (await client.post(tick)).status_code == 401
        theirs_tick = f"/api/v1/devices/{theirs}/setup/warranty_registration"
        assert (await client.post(theirs_tick, headers=alice)).status_code == 404

        device_step = await client.post(f"/api/v1/devices/{mine}/setup/network", headers=alice)
        assert device_step.status_code == 409
        assert "verified by the device" in device_step.json()["detail"]
        unknown = await client.post(f"/api/v1/devices/{mine}/setup/teleport", headers=alice)
        assert unknown.status_code == 404

        clock.advance(600)
        first = await client.post(tick, headers=alice)
        assert first.status_code == 200
        clock.advance(600)
        again = (await client.post(tick, headers=alice)).json()
        done = next(s for s in again["steps"] if s["id"] == "warranty_registration")
        assert done["state"] == "done"
        assert done["done_at"] == next(
            s["done_at"] for s in first.json()["steps"] if s["id"] == "warranty_registration"
        )
        assert again["activated"] is False
        prefs = f"/api/v1/devices/{mine}/setup/owner_preferences"
        final = (await client.post(prefs, headers=alice)).json()
        assert final["activated"] is True
        assert final["activated_at"] is not None


async def test_a_failing_check_brings_help_then_a_support_item_and_the_funnel_counts_it(
    repos: Repositories, clock: ManualClock
) -> None:
    batch = generate_batch("evcharger-ec11", 3)
    ok_id, bad_id, _ = (d.device_id for d in batch.devices)
    await import_batch(repos, batch)
    staff = bearer(repos.tokens.issue("service"))
    async with api(repos) as client:
        carol = bearer(await sign_up(client, "carol@example.com"))
        for device in batch.devices[:2]:
            claimed = await client.post(
                "/api/v1/claims", json={"claim_code": device.claim_code}, headers=carol
            )
            assert claimed.status_code == 201
        self_check(repos, ok_id, T0 + 10)
        self_check(repos, bad_id, T0 + 10, placement="no protective earth detected")
        for step in OWNER_STEPS:
            await client.post(f"/api/v1/devices/{ok_id}/setup/{step}", headers=carol)

        body = (await client.get(f"/api/v1/devices/{bad_id}/setup", headers=carol)).json()
        placement = next(s for s in body["steps"] if s["id"] == "placement")
        assert placement["state"] == "failed"
        assert placement["reason"] == "placement: no protective earth detected"
        assert "earth" in placement["help"]
        support = "/api/v1/support-items"
        assert (await client.get(support, headers=staff)).json() == []
        assert (await client.get(support, headers=carol)).status_code == 403

        clock.advance(13 * HOUR)  # past the placement step's support_after_s (12 h)
        carol = bearer(await sign_in(client, "carol@example.com"))
        funnel = await client.get(
            "/api/v1/activation/funnel", params={"model": "evcharger-ec11"}, headers=staff
        )
        assert funnel.status_code == 200
        figures = funnel.json()
        assert figures["devices"] == 2
        assert figures["activated"] == 1
        counts = {s["id"]: (s["done"], s["drop_off"]) for s in figures["steps"]}
        assert counts["network"] == (2, 0)
        assert counts["placement"] == (1, 1)
        assert figures["median_time_to_activate_s"] == pytest.approx(0.0, abs=60)
        assert figures["most_common_failing_check"] == {"check": "placement", "devices": 1}
        items = (await client.get(support, headers=staff)).json()
        assert [(i["device_id"], i["step"]) for i in items] == [(bad_id, "placement")]
        assert items[0]["reason"] == "placement: no protective earth detected"

        other = await client.get(
            "/api/v1/activation/funnel", params={"model": "heatpump-hp200"}, headers=staff
        )
        assert other.json()["devices"] == 0
        assert other.json()["most_common_failing_check"] is None
        assert (await client.get("/api/v1/activation/funnel", headers=carol)).status_code == 403
        too_long = {"firmware": "x" * 300}
        bad = await client.get("/api/v1/activation/funnel", params=too_long, headers=staff)
        assert bad.status_code == 422

        # the electrician fixes the earth; the device checks itself again after a reset
        self_check(repos, bad_id, clock.now())
        await client.get(f"/api/v1/devices/{bad_id}/setup", headers=carol)
        assert (await client.get(support, headers=staff)).json() == []
        resolved = (await client.get(support, params={"status": "all"}, headers=staff)).json()
        assert resolved[0]["resolved_at"] is not None

        # release on resale: the owner's ticks go with the owner
        released = await client.delete(f"/api/v1/devices/{ok_id}/owner", headers=carol)
        assert released.status_code == 200
        after = (await client.get(f"/api/v1/devices/{ok_id}/setup", headers=staff)).json()
        assert steps(after)["warranty_registration"] == "needs_owner"
        assert steps(after)["placement"] == "done"


def test_the_setup_api_is_in_the_openapi_document(repos: Repositories) -> None:
    from cloud.api.app import create_api

    paths = create_api(repos, dict).openapi()["paths"]
    assert "/api/v1/devices/{device_id}/setup" in paths
    assert "/api/v1/devices/{device_id}/setup/{step}" in paths
    assert "/api/v1/activation/funnel" in paths
    assert "/api/v1/support-items" in paths
