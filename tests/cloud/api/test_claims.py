"""Factory identity, owners and claiming through the real API on a real database: a batch
is imported, owners sign up and claim devices with the codes on their boxes, see only
their own devices, cannot guess codes, and hand devices on with fresh credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cloud.api.app import create_api
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.db.schema import api_tokens, factory_devices, owners
from cloud.incidents.tracker import IncidentOpened
from cloud.ingest.triage import RawMessage, triage
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel
from device_agent.identity import new_claim_code, normalise_claim_code
from firmware_sim.factory import Batch, generate_batch

T0 = 1_750_000_000.0
HEALTHY = {"mqtt": True, "ingest": True, "scoring": True}
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


def api(repos: Repositories, client: str = "203.0.113.5") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(repos, lambda: HEALTHY), client=(client, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient, email: str) -> str:
    """A new owner account and its sign-in token."""
    created = await client.post("/api/v1/owners", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    signed_in = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    token: str = body["access_token"]
    return token


async def import_batch(repos: Repositories, batch: Batch) -> None:
    async with api(repos) as client:
        response = await client.post(
            "/api/v1/batches",
            content=batch.to_json(),
            headers={**bearer(repos.tokens.issue("service")), "Content-Type": "application/json"},
        )
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": len(batch.devices), "model": batch.model}


def report(repos: Repositories, *device_ids: str) -> None:
    """The devices come online and send a few samples (a device row appears on first
    publish), as ingest would store them."""
    messages = []
    for device_id in device_ids:
        samples = [contract.Sample(seq=i, ts=T0 + 60 * i, metrics={"t": 20.0}) for i in range(3)]
        message = contract.TelemetryBatch(device_id=device_id, samples=samples)
        topic = contract.topic(device_id, Channel.TELEMETRY)
        messages.append(RawMessage(topic, contract.encode(message), T0))
    repos.telemetry.apply(triage(messages, T0))


async def test_a_batch_is_imported_claimed_and_each_owner_sees_exactly_their_device(
    repos: Repositories,
) -> None:
    batch = generate_batch("heatpump-hp200", 3)
    first, second, third = batch.devices
    staff = repos.tokens.issue("service")
    async with api(repos) as client:
        as_staff = bearer(staff)
        assert (await client.post("/api/v1/batches", content=batch.to_json())).status_code == 401
        await import_batch(repos, batch)
        assert repos.factory.is_known(first.device_id)
        assert not repos.factory.is_known("heatpump-hp200-unknown")

        again = generate_batch("heatpump-hp200", 2)
        overlapping = Batch(batch.model, batch.firmware, (*again.devices, third))
        conflict = await client.post(
            "/api/v1/batches", json=json.loads(overlapping.to_json()), headers=as_staff
        )
        assert conflict.status_code == 409
        assert third.device_id in conflict.json()["detail"]
        assert not any(repos.factory.is_known(d.device_id) for d in again.devices)

        broken = json.loads(again.to_json())
        broken["devices"][1]["claim_code"] = "ABCD-EFGH-IJKL-MNOP"
        invalid = await client.post("/api/v1/batches", json=broken, headers=as_staff)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "devices", 1, "claim_code"]
        assert "no 0, O, 1, I or L" in invalid.json()["detail"][0]["msg"]
        assert not repos.factory.is_known(again.devices[0].device_id)

        report(repos, first.device_id, second.device_id, third.device_id, "legacy-1")
        alice = await sign_up(client, "Alice@Example.com")
        bob = await sign_up(client, "bob@example.com")
        taken = await client.post(
            "/api/v1/owners", json={"email": "alice@EXAMPLE.com", "password": PASSWORD}
        )
        assert taken.status_code == 409
        for body in (
            {"email": "carol@example.com", "password": "short"},
            {"email": "not-an-email", "password": PASSWORD},
        ):
            assert (await client.post("/api/v1/owners", json=body)).status_code == 422
        wrong = await client.post(
            "/api/v1/auth/token", data={"username": "alice@example.com", "password": "nope!"}
        )
        assert wrong.status_code == 401

        typed = " " + first.claim_code.lower().replace("-", " ") + " "
        claimed = await client.post(
            "/api/v1/claims", json={"claim_code": typed}, headers=bearer(alice)
        )
        assert claimed.status_code == 201, claimed.text
        assert claimed.json()["device_id"] == first.device_id
        assert claimed.json()["model"] == "heatpump-hp200"
        assert claimed.json()["firmware"] == batch.firmware
        repeat = await client.post(
            "/api/v1/claims", json={"claim_code": first.claim_code}, headers=bearer(alice)
        )
        assert repeat.status_code == 200
        assert repeat.json() == claimed.json()
        staff_claim = await client.post(
            "/api/v1/claims", json={"claim_code": second.claim_code}, headers=as_staff
        )
        assert staff_claim.status_code == 403

        stolen = await client.post(
            "/api/v1/claims", json={"claim_code": first.claim_code}, headers=bearer(bob)
        )
        assert stolen.status_code == 409
        unknown = await client.post(
            "/api/v1/claims", json={"claim_code": new_claim_code()}, headers=bearer(bob)
        )
        assert unknown.status_code == 404
        bobs = await client.post(
            "/api/v1/claims", json={"claim_code": second.claim_code}, headers=bearer(bob)
        )
        assert bobs.status_code == 201

        for token, own, other in ((alice, first, second), (bob, second, first)):
            listed = await client.get("/api/v1/devices", headers=bearer(token))
            assert [d["id"] for d in listed.json()] == [own.device_id]
            assert (
                await client.get(f"/api/v1/devices/{own.device_id}", headers=bearer(token))
            ).status_code == 200
            for path in (
                f"/api/v1/devices/{other.device_id}",
                f"/api/v1/devices/{other.device_id}/telemetry",
            ):
                hidden = await client.get(path, headers=bearer(token))
                assert hidden.status_code == 404
                assert hidden.json() == {"detail": f"no device {other.device_id!r}"}
        fleet = await client.get("/api/v1/devices", headers=as_staff)
        assert len(fleet.json()) == 4


async def test_owners_never_see_each_others_incidents(repos: Repositories) -> None:
    batch = generate_batch("heatpump-hp200", 2)
    first, second = batch.devices
    await import_batch(repos, batch)
    report(repos, first.device_id, second.device_id)
    repos.incidents.record(
        [
            (IncidentOpened(d.device_id, "overheat/compressor", T0 + 600, T0, 0.9, {}), batch.model)
            for d in batch.devices
        ]
    )
    async with api(repos) as client:
        alice, bob = await sign_up(client, "a@example.com"), await sign_up(client, "b@example.com")
        for token, device in ((alice, first), (bob, second)):
            response = await client.post(
                "/api/v1/claims", json={"claim_code": device.claim_code}, headers=bearer(token)
            )
            assert response.status_code == 201
        incidents = {
            i["device_id"]: i["id"]
            for i in (
                await client.get("/api/v1/incidents", headers=bearer(repos.tokens.issue("service")))
            ).json()
        }
        for token, own, other in ((alice, first, second), (bob, second, first)):
            listed = (await client.get("/api/v1/incidents", headers=bearer(token))).json()
            assert [i["device_id"] for i in listed] == [own.device_id]
            filtered = await client.get(
                "/api/v1/incidents", params={"device": other.device_id}, headers=bearer(token)
            )
            assert filtered.json() == []
            theirs = await client.get(
                f"/api/v1/incidents/{incidents[other.device_id]}", headers=bearer(token)
            )
            assert theirs.status_code == 404
            mine = await client.get(
                f"/api/v1/incidents/{incidents[own.device_id]}", headers=bearer(token)
            )
            assert mine.status_code == 200


async def test_only_digests_are_stored(repos: Repositories) -> None:
    batch = generate_batch("evcharger-ec11", 3)
    await import_batch(repos, batch)
    async with api(repos) as client:
        token = await sign_up(client, "owner@example.com")
        claimed = await client.post(
            "/api/v1/claims",
            json={"claim_code": batch.devices[0].claim_code},
            headers=bearer(token),
        )
        assert claimed.status_code == 201
    plaintexts = {PASSWORD, token}
    for device in batch.devices:
        plaintexts |= {
            device.device_secret,
            device.claim_code,
            normalise_claim_code(device.claim_code),
            device.claim_code.lower(),
        }
    with repos.engine.connect() as conn:
        rows = [
            *conn.execute(select(factory_devices)).mappings(),
            *conn.execute(select(owners)).mappings(),
            *conn.execute(select(api_tokens)).mappings(),
        ]
    assert len(rows) == 3 + 1 + 2
    stored = json.dumps([dict(row) for row in rows])
    assert not [p for p in plaintexts if p in stored]
    assert all(
        row["password_hash"].startswith("$argon2id$") for row in rows if "password_hash" in row
    )


async def test_guessing_claim_codes_is_throttled_per_account(
    repos: Repositories, clock: ManualClock
) -> None:
    batch = generate_batch("heatpump-hp200", 1)
    await import_batch(repos, batch)
    async with api(repos) as client:
        token = await sign_up(client, "guesser@example.com")
        for _ in range(5):
            guess = await client.post(
                "/api/v1/claims", json={"claim_code": new_claim_code()}, headers=bearer(token)
            )
            assert guess.status_code == 404
            clock.advance(10)
        for code in (new_claim_code(), batch.devices[0].claim_code):
            locked = await client.post(
                "/api/v1/claims", json={"claim_code": code}, headers=bearer(token)
            )
            assert locked.status_code == 429
            assert int(locked.headers["Retry-After"]) == 900 - 50
        malformed = await client.post(
            "/api/v1/claims", json={"claim_code": "nonsense"}, headers=bearer(token)
        )
        assert malformed.status_code == 422
        clock.advance(900 - 50)
        opened = await client.post(
            "/api/v1/claims",
            json={"claim_code": batch.devices[0].claim_code},
            headers=bearer(token),
        )
        assert opened.status_code == 201


async def test_guessing_claim_codes_is_throttled_per_client_address(
    repos: Repositories,
) -> None:
    batch = generate_batch("heatpump-hp200", 1)
    code = batch.devices[0].claim_code
    await import_batch(repos, batch)
    async with api(repos, client="198.51.100.7") as botnet, api(repos, client="192.0.2.1") as home:
        for n in range(5):
            token = await sign_up(botnet, f"bot{n}@example.com")
            for _ in range(4):
                guess = await botnet.post(
                    "/api/v1/claims", json={"claim_code": new_claim_code()}, headers=bearer(token)
                )
                assert guess.status_code == 404
        fresh = await sign_up(botnet, "fresh@example.com")
        locked = await botnet.post(
            "/api/v1/claims", json={"claim_code": code}, headers=bearer(fresh)
        )
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0
        elsewhere = await home.post(
            "/api/v1/claims", json={"claim_code": code}, headers=bearer(fresh)
        )
        assert elsewhere.status_code == 201


async def test_owner_tokens_expire_and_service_tokens_do_not(
    repos: Repositories, clock: ManualClock
) -> None:
    staff = repos.tokens.issue("service")
    async with api(repos) as client:
        token = await sign_up(client, "short@example.com")
        clock.advance(3599)
        assert (await client.get("/api/v1/devices", headers=bearer(token))).status_code == 200
        clock.advance(2)
        expired = await client.get("/api/v1/devices", headers=bearer(token))
        assert expired.status_code == 401
        assert expired.headers["WWW-Authenticate"] == "Bearer"
        clock.advance(365 * 86_400)
        assert (await client.get("/api/v1/devices", headers=bearer(staff))).status_code == 200


async def test_release_rotates_credentials_and_the_box_code_serves_the_next_owner(
    repos: Repositories,
) -> None:
    batch = generate_batch("heatpump-hp200", 2)
    device, unclaimed = batch.devices
    await import_batch(repos, batch)
    report(repos, device.device_id)
    repos.incidents.record(
        [(IncidentOpened(device.device_id, "overheat/compressor", T0, T0, 0.9, {}), batch.model)]
    )
    staff = bearer(repos.tokens.issue("service"))
    assert repos.factory.verify_device_secret(device.device_id, device.device_secret)
    async with api(repos) as client:
        seller, buyer = (
            await sign_up(client, "seller@example.com"),
            await sign_up(client, "buyer@example.com"),
        )
        claim = {"claim_code": device.claim_code}
        assert (
            await client.post("/api/v1/claims", json=claim, headers=bearer(seller))
        ).status_code == 201
        path = f"/api/v1/devices/{device.device_id}/owner"
        assert (await client.delete(path, headers=bearer(buyer))).status_code == 404
        released = await client.delete(path, headers=bearer(seller))
        assert released.status_code == 200, released.text
        body = released.json()
        assert set(body) == {"device_id", "device_secret", "credentials_version"}
        assert body["credentials_version"] == 2
        assert not repos.factory.verify_device_secret(device.device_id, device.device_secret)
        assert repos.factory.verify_device_secret(device.device_id, body["device_secret"])
        assert not repos.factory.verify_device_secret("no-such-device", body["device_secret"])
        record = repos.factory.get(device.device_id)
        assert record is not None
        assert record.credentials_version == 2

        assert (await client.get("/api/v1/devices", headers=bearer(seller))).json() == []
        assert (await client.delete(path, headers=bearer(seller))).status_code == 404
        assert (await client.delete(path, headers=staff)).status_code == 409
        history = (await client.get("/api/v1/incidents", headers=staff)).json()
        assert [i["device_id"] for i in history] == [device.device_id]

        taken_over = await client.post("/api/v1/claims", json=claim, headers=bearer(buyer))
        assert taken_over.status_code == 201
        assert [
            d["id"] for d in (await client.get("/api/v1/devices", headers=bearer(buyer))).json()
        ] == [device.device_id]
        assert len((await client.get("/api/v1/incidents", headers=bearer(buyer))).json()) == 1
        by_service = await client.delete(path, headers=staff)
        assert by_service.status_code == 200
        assert by_service.json()["credentials_version"] == 3
        missing = await client.delete(f"/api/v1/devices/{unclaimed.device_id}/owner", headers=staff)
        assert missing.status_code == 409
        assert (await client.delete("/api/v1/devices/nope/owner", headers=staff)).status_code == 404
