"""Live updates: a page that listens on /api/v1/events hears of changes as they happen,
an owner only of their own devices', and is told to reload when it may have missed some."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from cloud.incidents.tracker import IncidentOpened
from cloud.ingest.triage import RawMessage, triage
from device_agent import contract
from device_agent.contract import Channel
from tests.conftest import RunningCloud, wait_until

T0 = 1_750_000_000.0


def _telemetry(device_id: str) -> RawMessage:
    samples = [contract.Sample(seq=0, ts=T0, metrics={"t": 20.0})]
    message = contract.TelemetryBatch(device_id=device_id, samples=samples)
    return RawMessage(contract.topic(device_id, Channel.TELEMETRY), contract.encode(message), T0)


class Listener:
    """An open event stream and what it has heard, as (event, data) pairs."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []
        self.ended = False

    def of(self, kind: str) -> list[Any]:
        return [data for event, data in self.heard if event == kind]


@contextlib.asynccontextmanager
async def listening(cloud: RunningCloud, token: str) -> AsyncIterator[Listener]:
    listener = Listener()

    async def read() -> None:
        async with (
            cloud.client(token) as client,
            client.stream("GET", "/api/v1/events", timeout=None) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    listener.heard.append((event, json.loads(line[6:])))
        listener.ended = True

    task = asyncio.create_task(read())
    await wait_until(lambda: listener.of("ready") or task.done(), 10)
    assert listener.of("ready"), "the stream did not open"
    try:
        yield listener
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_incidents_reach_listeners_as_they_open_and_owners_hear_only_theirs(
    cloud: RunningCloud,
) -> None:
    repos = cloud.service.repos
    repos.telemetry.apply(triage([_telemetry("hp-1"), _telemetry("ev-1")], 1e9))
    repos.telemetry.set_owner("hp-1", "alice")
    staff = repos.tokens.issue("service")
    alice = repos.tokens.issue("owner", owner_id="alice")
    async with listening(cloud, staff) as team, listening(cloud, alice) as owner:
        await asyncio.sleep(1.5)  # both listening before anything happens
        repos.incidents.record(
            [
                (IncidentOpened("hp-1", "overheat/temp_c", T0, T0, 0.9, {}), "heatpump-hp200"),
                (IncidentOpened("ev-1", "leak/heap_kb", T0, T0, 0.8, {}), "evcharger-ec11"),
            ]
        )
        await wait_until(lambda: len(team.of("incident")) >= 2 and owner.of("incident"), 15)
        await asyncio.sleep(2.0)  # time for anything the owner must not hear
    assert {i["device_id"] for i in team.of("incident")} == {"hp-1", "ev-1"}
    heard = team.of("incident")[0]
    assert {"signature", "status", "fix_attempts", "evidence_window"} <= set(heard)
    # the loop may escalate hp-1's incident (no playbook fix) before or after it is
    # first read: the owner then also hears that change, still only of hp-1
    assert {i["device_id"] for i in owner.of("incident")} == {"hp-1"}


async def test_a_stopping_server_tells_its_listeners_to_reload(cloud: RunningCloud) -> None:
    staff = cloud.service.repos.tokens.issue("service")
    async with listening(cloud, staff) as team:
        cloud.service.api.state.live.close()
        await wait_until(lambda: team.ended, 10)
    assert team.of("resync") == [{}]
    assert team.ended


async def test_the_stream_needs_a_valid_token(cloud: RunningCloud) -> None:
    async with cloud.client("not-a-token") as client:
        answer = await client.get("/api/v1/events")
    assert answer.status_code == 401
    async with httpx.AsyncClient(base_url=cloud.base_url) as anonymous:
        assert (await anonymous.get("/api/v1/events")).status_code == 401
