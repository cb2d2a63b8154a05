"""A service engineer's verdict changes what detection does: a false positive does not
come back for the same benign pattern, and verdicts feed the per-signature statistics."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.app import create_api
from cloud.db.incidents import IncidentFilter
from cloud.db.records import StoredSample
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.scoring.worker import TUNING_POLL_S, ScoringWorker
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock

T0 = 1_767_225_600.0
STEP_S = 60.0
HEALTHY = {"mqtt": True, "ingest": True, "scoring": True}


@pytest.fixture
def repos(database_url: str, tmp_path: Path) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, ManualClock(T0))


def _day(device_id: str, start: int, spikes: set[int]) -> list[StoredSample]:
    """A day of a temperature cycle and a steady current; at ``spikes`` the current jumps
    by 3 A for one reading (a heavy load switching next door: benign, but it looks
    exactly like a loose sensor wire)."""
    rng = random.Random(start)
    rows = []
    for i in range(start, start + 1440):
        hour = (i * STEP_S / 3600) % 24
        metrics = {
            "supply_temp_c": round(
                40 + 5 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 0.3), 3
            ),
            "current_a": round(2.5 + rng.gauss(0, 0.1) + (3.0 if i in spikes else 0.0), 3),
        }
        rows.append(StoredSample(device_id, i, T0 + i * STEP_S, metrics))
    return rows


def _both(start: int, spikes: set[int]) -> list[StoredSample]:
    """The same day on the device the verdict is about and on an untouched twin."""
    return _day("hp-1", start, spikes) + _day("hp-twin", start, spikes)


async def test_a_false_positive_does_not_come_back_for_the_same_benign_pattern(
    repos: Repositories,
) -> None:
    worker = ScoringWorker(repos.telemetry, repos.incidents, clock=repos.clock)
    worker.score(_both(0, set()))  # a day to learn the devices
    worker.score(_both(1440, {2040, 2045, 2050, 2055}))
    first = repos.incidents.find(IncidentFilter(device_id="hp-1", signature="spike/current_a"))
    assert len(first) == 1
    (incident,) = first
    assert incident.explanation["value"] > 5.0, "the explanation shows the spike's peak"
    staff = repos.tokens.issue("service")
    owner = repos.tokens.issue("owner", owner_id="alice")
    transport = httpx.ASGITransport(app=create_api(repos, lambda: HEALTHY))
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as api:
        as_staff = {"Authorization": f"Bearer {staff}"}
        refused = await api.post(
            f"/incidents/{incident.id}/verdict",
            json={"verdict": "false_positive"},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert refused.status_code == 403
        bad = await api.post(
            f"/incidents/{incident.id}/verdict", json={"verdict": "meh"}, headers=as_staff
        )
        assert bad.status_code == 422
        missing = await api.post(
            "/incidents/999999/verdict", json={"verdict": "confirmed"}, headers=as_staff
        )
        assert missing.status_code == 404
        marked = await api.post(
            f"/incidents/{incident.id}/verdict",
            json={"verdict": "false_positive", "note": "the neighbour's welder"},
            headers=as_staff,
        )
        assert marked.status_code == 200, marked.text
        body = marked.json()
        assert body["verdict"] == "false_positive"
        assert body["status"] == "resolved"
        assert "spike detector no longer opens" in body["explanation"]["verdict_effect"]

        await asyncio.sleep(TUNING_POLL_S + 0.1)  # the worker polls for new tunings
        worker.score(_both(2880, {3480, 3485, 3490, 3495}))  # the same load, a day later
        again = repos.incidents.find(IncidentFilter(signature="spike/current_a"))
        by_device = sorted((i.device_id, i.id == incident.id) for i in again)
        assert by_device == [("hp-1", True), ("hp-twin", False), ("hp-twin", False)], (
            "the twin's spikes open incidents again; the judged device's do not"
        )
        for other in again:
            if other.device_id == "hp-twin":
                await api.post(
                    f"/incidents/{other.id}/verdict",
                    json={"verdict": "confirmed"},
                    headers=as_staff,
                )
        stats = (await api.get("/signatures", headers=as_staff)).json()
    spikes = next(s for s in stats if s["signature"] == "spike/current_a")
    assert spikes == {
        "signature": "spike/current_a",
        "incidents": 3,
        "confirmed": 2,
        "false_positive": 1,
        "precision": 0.667,
    }
