"""Simulation runs through the real API on a real database: the service team and
manufacturers record and read them, owners may not; bad reports get a 422 that says
what is wrong; a manufacturer's token opens nothing of the real fleet."""

from __future__ import annotations

import copy
from typing import Any

from cloud.db.repositories import Repositories
from tests.cloud.api.test_claims import api, bearer, clock, report, repos

__all__ = ["clock", "repos"]  # fixtures shared with the claim tests

RUN: dict[str, Any] = {
    "scenario": "smoke",
    "scenario_file": "smoke.yaml",
    "started_at": "2026-03-01T10:00:00+00:00",
    "finished_at": "2026-03-01T10:00:42.5+00:00",
    "speed": 100,
    "seed": 2,
    "devices": 3,
    "models": ["evcharger-ev7", "heatpump-hp200"],
    "passed": False,
    "expectations": [
        {
            "name": "all_connected",
            "passed": True,
            "detail": "all 3 devices connected to the broker",
            "measured": 3,
            "limit": 3,
        },
        {
            "name": "max_unacknowledged_samples",
            "passed": False,
            "detail": "12 samples were never acknowledged by the cloud, 12 over the limit of 0",
            "devices": ["lab-heatpump-00001"],
            "measured": 12,
            "limit": 0,
        },
    ],
    "summary": "scenario smoke: 3 devices, 90 samples",
}


def run(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(RUN)
    body.update(changes)
    return body


async def test_service_and_manufacturers_record_and_read_runs_owners_may_not(
    repos: Repositories,
) -> None:
    staff = bearer(repos.tokens.issue("service"))
    maker = bearer(repos.tokens.issue("manufacturer"))
    alice = bearer(repos.tokens.issue("owner", owner_id="alice"))
    async with api(repos) as client:
        assert (await client.post("/api/v1/sim-runs", json=RUN)).status_code == 401
        assert (await client.get("/api/v1/sim-runs")).status_code == 401
        first = await client.post("/api/v1/sim-runs", json=RUN, headers=maker)
        assert first.status_code == 201, first.text
        recorded = first.json()
        assert recorded["passed"] is False
        assert recorded["expectations_held"] == 1
        assert recorded["duration_s"] == 42.5
        assert recorded["reported_by"] == "manufacturer"
        assert recorded["recorded_at"].startswith("2025-")  # the cloud's clock, T0
        assert recorded["expectations"][1]["devices"] == ["lab-heatpump-00001"]
        assert recorded["expectations"][1]["measured"] == 12
        later = run(
            scenario="nightly",
            started_at="2026-03-02T10:00:00Z",
            finished_at="2026-03-02T10:05:00Z",
            passed=True,
            expectations=[RUN["expectations"][0]],
            reported_by="ci job 7",
        )
        second = await client.post("/api/v1/sim-runs", json=later, headers=staff)
        assert second.status_code == 201, second.text
        assert second.json()["reported_by"] == "ci job 7"

        for who in (staff, maker):
            listed = (await client.get("/api/v1/sim-runs", headers=who)).json()
            assert [r["scenario"] for r in listed] == ["nightly", "smoke"], "newest first"
        failed = await client.get("/api/v1/sim-runs?passed=false", headers=maker)
        assert [r["scenario"] for r in failed.json()] == ["smoke"]
        one = await client.get(f"/api/v1/sim-runs/{recorded['id']}", headers=maker)
        assert one.json() == recorded
        missing = await client.get("/api/v1/sim-runs/999", headers=maker)
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no simulation run 999"

        for request in (
            client.get("/api/v1/sim-runs", headers=alice),
            client.get(f"/api/v1/sim-runs/{recorded['id']}", headers=alice),
            client.post("/api/v1/sim-runs", json=RUN, headers=alice),
        ):
            refused = await request
            assert refused.status_code == 403
            assert "service or manufacturer" in refused.json()["detail"]


BAD_REPORTS: list[tuple[dict[str, Any], str]] = [
    (run(passed=True), "cannot have passed while expectation 'max_unacknowledged_samples'"),
    (run(finished_at="2026-03-01T09:00:00+00:00"), "finished_at is before started_at"),
    (run(started_at="2026-03-01T10:00:00"), "timezone"),
    (run(speed=0), "greater than 0"),
    (run(devices=0), "greater than or equal to 1"),
    (run(scenario=""), "at least 1 character"),
    (run(colour="red"), "Extra inputs are not permitted"),
    (run(expectations=[{"name": "x", "passed": True}]), "Field required"),
    (
        run(expectations=[{**RUN["expectations"][0], "devices": ["no spaces allowed"]}]),
        "should match pattern",
    ),
]


async def test_a_bad_report_is_refused_saying_what_is_wrong(repos: Repositories) -> None:
    maker = bearer(repos.tokens.issue("manufacturer"))
    async with api(repos) as client:
        for body, says in BAD_REPORTS:
            refused = await client.post("/api/v1/sim-runs", json=body, headers=maker)
            assert refused.status_code == 422, says
            assert says in str(refused.json()["detail"])
        assert (await client.get("/api/v1/sim-runs", headers=maker)).json() == []


async def test_a_non_finite_amount_is_refused_not_a_server_error(repos: Repositories) -> None:
    maker = bearer(repos.tokens.issue("manufacturer"))
    text = (
        '{"scenario": "s", "started_at": 0, "finished_at": 1, "speed": 1, "seed": 1,'
        ' "devices": 1, "passed": false, "expectations": [{"name": "x", "passed": false,'
        ' "detail": "no", "measured": NaN}]}'
    )
    async with api(repos) as client:
        refused = await client.post(
            "/api/v1/sim-runs",
            content=text,
            headers={**maker, "Content-Type": "application/json"},
        )
    assert refused.status_code == 422


async def test_a_manufacturer_token_opens_nothing_of_the_real_fleet(repos: Repositories) -> None:
    report(repos, "hp-1", "hp-2")
    repos.telemetry.set_owner("hp-1", "alice")
    maker = bearer(repos.tokens.issue("manufacturer"))
    async with api(repos) as client:
        for path in (
            "/api/v1/devices",
            "/api/v1/devices/hp-1",
            "/api/v1/devices/hp-1/telemetry",
            "/api/v1/devices/hp-1/setup",
            "/api/v1/incidents",
            "/api/v1/outreach",
            "/api/v1/support",
            "/api/v1/fixes",
            "/api/v1/campaigns",
            "/api/v1/activation/funnel",
            "/api/v1/owners/me/preferences",
        ):
            refused = await client.get(path, headers=maker)
            assert refused.status_code == 403, path
        claim = await client.post("/api/v1/claims", json={"claim_code": "X"}, headers=maker)
        assert claim.status_code in (403, 422)
        support = await client.post(
            "/api/v1/support",
            json={"device_id": "hp-1", "category": "other", "description": "it is broken now"},
            headers=maker,
        )
        assert support.status_code == 403
        assert "simulation runs only" in support.json()["detail"]
