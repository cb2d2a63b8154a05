"""``GET /api/v1/events``: the changes the caller may see, as server-sent events, so the
pages update without reloading or polling lists.

Events: ``incident`` (the incident as ``GET /incidents/{id}`` returns it, fix attempts
included), ``device`` (``id``, ``model``, ``online``; or ``owner_id`` when claimed),
``setup`` (``device_id``: its checklist moved), ``outreach`` and ``support`` (``id``,
``device_id``, ``status``), ``campaign`` (``id``, ``status``), ``sim_run`` (the run as
``GET /sim-runs/{id}`` returns it). A manufacturer's token hears only ``sim_run``; an
owner's never does. A comment line every
15 s keeps proxies from closing an idle stream. ``resync`` means changes were missed
(the listener fell behind or the server is stopping): reload, then listen again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from cloud.api.deps import CallerDep, ReposDep
from cloud.api.live import KEEPALIVE, Audience, LiveHub, sse_frame
from cloud.api.schemas.incidents import IncidentOut
from cloud.api.schemas.sim_runs import SimRunOut
from cloud.db.changes import Change
from cloud.db.repositories import Repositories

router = APIRouter(tags=["live"])

KEEPALIVE_S = 15.0
OWNED_REFRESH_S = 5.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
)
async def stream_events(
    request: Request, principal: CallerDep, repos: ReposDep
) -> StreamingResponse:
    """Changes as they happen, for as long as the connection stays open."""
    hub: LiveHub = request.app.state.live
    audience = Audience.of(principal)
    return StreamingResponse(
        _events(request, hub, audience, repos),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, hub: LiveHub, audience: Audience, repos: Repositories
) -> AsyncIterator[bytes]:
    owned = await asyncio.to_thread(_owned, repos, audience)
    owned_at = time.monotonic()
    number = 0
    yield b"retry: 3000\n\n" + sse_frame("ready", {"owner_id": audience.owner_id})
    async with hub.subscribe() as queue:
        while not await request.is_disconnected():
            try:
                live = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield KEEPALIVE
                continue
            if live is None:
                yield sse_frame("resync", {})
                return
            change, data = live
            if audience.owner_id is not None and (
                time.monotonic() - owned_at > OWNED_REFRESH_S or change.kind == "device"
            ):
                owned = await asyncio.to_thread(_owned, repos, audience)
                owned_at = time.monotonic()
            if not audience.may_see(change, owned):
                continue
            number += 1
            yield sse_frame(change.kind, data, number)


def _owned(repos: Repositories, audience: Audience) -> frozenset[str]:
    if audience.owner_id is None:
        return frozenset()
    return frozenset(d.id for d in repos.telemetry.list_devices(owner_id=audience.owner_id))


def describe_change(repos: Repositories, change: Change) -> object | None:
    """What a change's event says: the incident or run as the API returns it (read once
    per change, for every listener), else the change's own columns; None when it is
    gone."""
    if change.kind == "sim_run":
        run = repos.sim_runs.get(int(change.key))
        return None if run is None else SimRunOut.of(run).model_dump(mode="json")
    if change.kind != "incident":
        return change.data
    incident = repos.incidents.get(int(change.key))
    if incident is None:
        return None
    attempts = repos.remediation.attempts([incident.id]).get(incident.id)
    return IncidentOut.of(incident, attempts).model_dump(mode="json")
