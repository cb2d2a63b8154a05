"""Support requests through the real API on a real database, with the support worker
ticked on a ManualClock: who may file, read, reply and resolve; what is validated; how a
bundle is attached (and redacted again), when the cloud's summary replaces it, and how
the SLA clocks escalate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.api.app import create_api
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.heal.signing import CommandSigner
from cloud.ingest.triage import RawMessage, triage
from cloud.settings import CloudSettings
from cloud.support.worker import SupportWorker
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel, Command, SignedCommand
from tests.cloud.api.test_claims import HEALTHY, T0, bearer, report

HOUR = 3600.0
DESCRIPTION = "It makes a loud noise at night"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 600)


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


class Published:
    """The broker's side of the worker: what it published, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))

    def commands(self) -> list[Command]:
        return [
            Command.model_validate_json(SignedCommand.model_validate_json(p).command)
            for _, p in self.messages
        ]


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def worker(
    repos: Repositories, tmp_path: Path, clock: ManualClock, published: Published
) -> SupportWorker:
    return SupportWorker(
        repos.support,
        repos.telemetry,
        repos.incidents,
        repos.remediation,
        CommandSigner.load_or_create(tmp_path / "key.pem"),
        published,
        clock,
        timeout_s=120.0,
    )


def client(repos: Repositories) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(repos, lambda: HEALTHY))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def owned(repos: Repositories, owner: str, *device_ids: str) -> dict[str, str]:
    report(repos, *device_ids)
    for device_id in device_ids:
        repos.telemetry.set_owner(device_id, owner)
    return bearer(repos.tokens.issue("owner", owner))


def bundle_arrives(repos: Repositories, device_id: str, request_id: int, **config: Any) -> int:
    """The device's bundle, stored as ingest stores it; returns what the cloud redacted."""
    bundle = contract.DiagnosticBundle(
        device_id=device_id,
        bundle_id=f"b-{request_id}",
        request_id=str(request_id),
        ts=T0 + 600,
        model="heatpump-hp200",
        firmware="2.4.1",
        window_s=3600.0,
        telemetry={"t": contract.MetricSummary(count=3, min=20.0, max=20.0, mean=20.0, last=20.0)},
        self_heal=[],
        config=config,
        errors=[],
    )
    raw = RawMessage(contract.topic(device_id, Channel.DIAGNOSTICS), contract.encode(bundle), T0)
    batch = triage([raw], 86_400)
    repos.telemetry.apply(batch)
    return batch.redacted_in_cloud


async def test_owners_file_for_their_own_devices_and_bad_input_is_refused(
    repos: Repositories,
) -> None:
    alice = owned(repos, "alice", "hp-a")
    bob = owned(repos, "bob", "hp-b")
    staff = bearer(repos.tokens.issue("service"))
    good = {"device_id": "hp-a", "category": "noise", "description": DESCRIPTION}
    async with client(repos) as api:
        assert (await api.post("/api/v1/support", json=good)).status_code == 401
        theirs = await api.post(
            "/api/v1/support", json={**good, "device_id": "hp-b"}, headers=alice
        )
        assert theirs.status_code == 404
        assert theirs.json() == {"detail": "no device 'hp-b'"}
        nowhere = await api.post(
            "/api/v1/support", json={**good, "device_id": "hp-x"}, headers=staff
        )
        assert nowhere.status_code == 404
        for bad, field in (
            ({**good, "category": "broken"}, "category"),
            ({**good, "description": "x"}, "description"),
            ({**good, "description": "  \n  "}, "description"),
            ({**good, "description": "a" * 2001}, "description"),
            ({**good, "description": "bell \x07 rings"}, "description"),
            ({**good, "priority": "urgent"}, "priority"),
            ({"category": "noise", "description": DESCRIPTION}, "device_id"),
        ):
            refused = await api.post("/api/v1/support", json=bad, headers=alice)
            assert refused.status_code == 422, bad
            assert refused.json()["detail"][0]["loc"][-1] == field
        filed = await api.post("/api/v1/support", json=good, headers=alice)
        assert filed.status_code == 201, filed.text
        mine = filed.json()
        assert (mine["status"], mine["diagnostics"], mine["sla"]) == ("collecting", "pending", None)
        for_bob = await api.post(
            "/api/v1/support", json={**good, "device_id": "hp-b"}, headers=staff
        )
        assert for_bob.status_code == 201
        assert for_bob.json()["sla"]["first_response_due"] is not None

        listed = (await api.get("/api/v1/support", headers=alice)).json()
        assert [r["id"] for r in listed] == [mine["id"]]
        assert (await api.get(f"/api/v1/support/{mine['id']}", headers=bob)).status_code == 404
        assert (await api.get("/api/v1/support/999", headers=staff)).status_code == 404
        assert (await api.get("/api/v1/support?status=lost", headers=staff)).status_code == 422
        assert (await api.get("/api/v1/support", headers=staff)).json() == [], "still collecting"
        answer = {"text": "We are on it."}
        for verb in ("reply", "resolve"):
            url = f"/api/v1/support/{mine['id']}/{verb}"
            assert (await api.post(url, json=answer, headers=alice)).status_code == 403
            early = await api.post(url, json=answer, headers=staff)
            assert early.status_code == 409
            assert "still collecting" in early.json()["detail"]
            blank = await api.post(url, json={"text": "   "}, headers=staff)
            assert blank.status_code == 422


async def test_a_request_is_asked_for_its_bundle_queued_with_it_and_escalates_when_late(
    repos: Repositories, worker: SupportWorker, published: Published, clock: ManualClock
) -> None:
    alice = owned(repos, "alice", "hp-a")
    staff = bearer(repos.tokens.issue("service"))
    async with client(repos) as api:
        filed = await api.post(
            "/api/v1/support",
            json={"device_id": "hp-a", "category": "not_working", "description": DESCRIPTION},
            headers=alice,
        )
        request_id = filed.json()["id"]
        worker.tick()
        (command,) = published.commands()
        assert (command.device_id, command.action) == ("hp-a", "collect_diagnostics")
        assert command.params == {"request_id": str(request_id)}
        assert published.messages[0][0] == contract.topic("hp-a", Channel.COMMANDS)
        worker.tick()
        assert len(published.messages) == 1, "asked once"

        # A device that let a secret through: the cloud withholds it on arrival.
        leaked = {"device.wifi_psk": "LEAKED-psk", "device.note": "call me on +44 20 7946 0001"}
        assert bundle_arrives(repos, "hp-a", request_id, **leaked) == 2
        worker.tick()
        url = f"/api/v1/support/{request_id}"
        detail = (await api.get(url, headers=staff)).json()
        assert (detail["status"], detail["diagnostics"]) == ("open", "device")
        assert detail["bundle"]["config"] == {
            "device.wifi_psk": "[redacted:secret]",
            "device.note": "call me on [redacted:phone]",
        }
        assert "LEAKED" not in json.dumps(detail)
        assert (await api.get(url, headers=alice)).json()["bundle"] is None

        clock.advance(4 * HOUR)
        worker.tick()
        assert (await api.get(url, headers=staff)).json()["status"] == "open", "due, not late"
        clock.advance(1)
        worker.tick()
        (queued,) = (await api.get("/api/v1/support", headers=staff)).json()
        assert queued["status"] == "escalated"
        assert queued["sla"]["first_response_overdue"] is True
        assert queued["sla"]["escalation"] == "first response overdue"
        replied = await api.post(
            f"{url}/reply", json={"text": "Sorry, looking now."}, headers=staff
        )
        assert replied.status_code == 200, replied.text
        assert replied.json()["status"] == "escalated", "escalation sticks until resolved"
        assert replied.json()["sla"]["first_response_at"] is not None

        clock.advance(3 * 24 * HOUR)
        worker.tick()
        worker.tick()
        late = (await api.get(url, headers=staff)).json()
        assert late["sla"]["escalation"] == "first response overdue; resolution overdue"
        assert worker.stats.escalated == 2
        resolved = await api.post(f"{url}/resolve", json={"text": "Fan replaced."}, headers=staff)
        assert resolved.json()["status"] == "resolved"
        mine = (await api.get(url, headers=alice)).json()
        assert [r["text"] for r in mine["replies"]] == ["Sorry, looking now."]
        assert mine["resolution"] == "Fan replaced."
        again = await api.post(f"{url}/reply", json={"text": "One more thing"}, headers=staff)
        assert again.status_code == 409
        assert (await api.get("/api/v1/support?status=resolved", headers=alice)).json()


async def test_a_silent_device_falls_back_after_the_timeout_and_a_late_bundle_still_counts(
    repos: Repositories, worker: SupportWorker, clock: ManualClock
) -> None:
    alice = owned(repos, "alice", "hp-a")
    staff = bearer(repos.tokens.issue("service"))
    async with client(repos) as api:
        filed = await api.post(
            "/api/v1/support",
            json={"device_id": "hp-a", "category": "performance", "description": DESCRIPTION},
            headers=alice,
        )
        request_id = filed.json()["id"]
        worker.tick()
        clock.advance(119)
        worker.tick()
        url = f"/api/v1/support/{request_id}"
        assert (await api.get(url, headers=staff)).json()["status"] == "collecting"
        clock.advance(1)
        worker.tick()
        detail = (await api.get(url, headers=staff)).json()
        assert (detail["status"], detail["diagnostics"]) == ("open", "cloud")
        assert "did not send diagnostics within 120 s" in detail["diagnostics_note"]
        assert detail["cloud_summary"]["telemetry"]["metrics"]["t"]["count"] == 3
        assert detail["cloud_summary"]["device"]["online"] is True

        bundle_arrives(repos, "hp-a", request_id)
        worker.tick()
        detail = (await api.get(url, headers=staff)).json()
        assert detail["diagnostics"] == "device"
        assert detail["cloud_summary"] is not None, "the summary stays beside it"
        assert "arrived after the cloud summary" in detail["diagnostics_note"]


async def test_a_bundle_for_another_devices_request_is_never_attached(
    repos: Repositories, worker: SupportWorker
) -> None:
    alice = owned(repos, "alice", "hp-a")
    owned(repos, "mallory", "hp-m")
    async with client(repos) as api:
        filed = await api.post(
            "/api/v1/support",
            json={"device_id": "hp-a", "category": "other", "description": DESCRIPTION},
            headers=alice,
        )
    request_id = filed.json()["id"]
    worker.tick()
    bundle_arrives(repos, "hp-m", request_id)
    worker.tick()
    row = repos.support.get(request_id)
    assert row is not None
    assert (row.status, row.bundle_id) == ("collecting", None)
