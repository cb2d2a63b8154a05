"""Tags the service team puts on devices, and campaigns that pick their cohort by tag."""

from __future__ import annotations

from cloud.db.repositories import Repositories
from tests.cloud.api.test_claims import api, bearer, clock, report, repos

__all__ = ["clock", "repos"]  # fixtures shared with the claim tests

ROLLOUT = {
    "action": "recalibrate_sensor",
    "params": {"metric": "t"},
    "verify": {"within_s": 600, "hold_s": 120},
    "canary_share": 0.5,
    "batch_size": 10,
}


async def test_only_service_sets_tags_and_an_owner_reads_only_their_devices(
    repos: Repositories,
) -> None:
    report(repos, "hp-1", "hp-2")
    repos.telemetry.set_owner("hp-1", "alice")
    staff = bearer(repos.tokens.issue("service"))
    alice = bearer(repos.tokens.issue("owner", owner_id="alice"))
    async with api(repos) as client:
        put = await client.put("/api/v1/devices/hp-1/tags", json={"tags": ["site:oslo", "pilot"]})
        assert put.status_code == 401
        put = await client.put("/api/v1/devices/hp-1/tags", json={"tags": ["x"]}, headers=alice)
        assert put.status_code == 403
        bad = await client.put(
            "/api/v1/devices/hp-1/tags", json={"tags": ["Pilot!"]}, headers=staff
        )
        assert bad.status_code == 422
        unknown = await client.put("/api/v1/devices/nope/tags", json={"tags": []}, headers=staff)
        assert unknown.status_code == 404
        put = await client.put(
            "/api/v1/devices/hp-1/tags",
            json={"tags": ["site:oslo", "pilot", "pilot"]},
            headers=staff,
        )
        assert put.json() == {"device_id": "hp-1", "tags": ["pilot", "site:oslo"]}
        mine = await client.get("/api/v1/devices/hp-1/tags", headers=alice)
        assert mine.json()["tags"] == ["pilot", "site:oslo"]
        theirs = await client.get("/api/v1/devices/hp-2/tags", headers=alice)
        assert theirs.status_code == 404
        cleared = await client.put("/api/v1/devices/hp-1/tags", json={"tags": []}, headers=staff)
        assert cleared.json()["tags"] == []


async def test_a_campaign_by_tag_reaches_only_the_tagged_devices(repos: Repositories) -> None:
    report(repos, "hp-1", "hp-2", "hp-3")
    staff = bearer(repos.tokens.issue("service"))
    async with api(repos) as client:
        for device_id in ("hp-1", "hp-3"):
            tagged = await client.put(
                f"/api/v1/devices/{device_id}/tags", json={"tags": ["suspect-batch"]}, headers=staff
            )
            assert tagged.status_code == 200
        created = await client.post(
            "/api/v1/campaigns",
            json={**ROLLOUT, "cohort": {"tag": "suspect-batch"}},
            headers=staff,
        )
        assert created.status_code == 201, created.text
        campaign = created.json()
        assert campaign["devices"] == 2
        assert campaign["cohort"]["tag"] == "suspect-batch"
        targets = {t.device_id for t in repos.campaigns.targets(campaign["id"])}
        assert targets == {"hp-1", "hp-3"}
        empty = await client.post(
            "/api/v1/campaigns", json={**ROLLOUT, "cohort": {"tag": "nobody"}}, headers=staff
        )
        assert empty.status_code == 422
