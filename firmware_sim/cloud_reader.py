"""What a cloud holds for a simulated fleet, read over its HTTP API after a run: the
incidents it opened (``GET /api/v1/incidents``) and, per device, the seqs it stored
(``GET /api/v1/devices/{id}/telemetry``, paged by time).

Standard library HTTP only, like :mod:`firmware_sim.upload`; every failure becomes
:class:`CloudUnreadable` with a message that says what went wrong.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from firmware_sim.expectations import (
    CloudObservation,
    ObservedFix,
    ObservedIncident,
    ObservedOutreach,
    ObservedSetup,
)
from firmware_sim.upload import API_SUFFIX, TIMEOUT_S, api_base

__all__ = ["CloudUnreadable", "observe_cloud", "wait_settled"]

PAGE = 10_000
"""Samples per telemetry request (the API's largest page)."""
MAX_INCIDENTS = 5000
MAX_OUTREACH = 10_000
"""The API's largest outreach page (newest first, no paging of its own)."""


class CloudUnreadable(Exception):
    """The cloud could not be read; the message says why."""


def _get(api_url: str, token: str, path: str, query: dict[str, Any]) -> Any:
    url = f"{api_base(api_url)}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise CloudUnreadable(
                f"the cloud refused the token for {path} ({exc.code}): a service token "
                "reads incidents and telemetry"
            ) from None
        raise CloudUnreadable(f"the cloud answered {exc.code} at {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CloudUnreadable(f"cannot read the cloud at {url}: {exc}") from None


def wait_settled(api_url: str, timeout_s: float = 30.0, poll_s: float = 0.05) -> bool:
    """Until the cloud's ``/healthz`` says ingest and scoring hold nothing back (its
    ``backlog``), so the incidents the run's samples will open are open before they are
    read: on a fast clock, or a loaded machine, scoring may trail the fleet's last
    acknowledged sample. False when it did not settle in ``timeout_s`` or does not say
    (an older cloud); the run is read as it is then."""
    url = api_base(api_url).removesuffix(API_SUFFIX) + "/healthz"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                backlog = json.loads(response.read()).get("backlog")
        except urllib.error.HTTPError as exc:  # 503 while degraded: still a body
            backlog = json.loads(exc.read() or b"{}").get("backlog")
        except (urllib.error.URLError, OSError, ValueError):
            backlog = None
        if isinstance(backlog, dict) and not any(backlog.values()):
            return True
        if backlog is None or time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _maybe_epoch(text: str | None) -> float | None:
    return None if text is None else _epoch(text)


def _incident(listed: dict[str, Any]) -> ObservedIncident:
    fixes = tuple(
        ObservedFix(
            a["action"], a["verified"], _epoch(a["sent_at"]), _maybe_epoch(a.get("result_at"))
        )
        for a in listed.get("fix_attempts", [])
    )
    return ObservedIncident(
        listed["device_id"],
        listed["signature"],
        _epoch(listed["opened_at"]),
        fixes,
        _maybe_epoch(listed.get("resolved_at")),
    )


def read_incidents(
    api_url: str, token: str, device_ids: Sequence[str], since_s: float
) -> tuple[ObservedIncident, ...]:
    """The fleet's incidents opened at or after ``since_s``."""
    fleet = set(device_ids)
    listed = _get(api_url, token, "/incidents", {"since": since_s, "limit": MAX_INCIDENTS})
    if len(listed) >= MAX_INCIDENTS:
        raise CloudUnreadable(f"the cloud lists {MAX_INCIDENTS} incidents or more since the start")
    return tuple(_incident(i) for i in listed if i["device_id"] in fleet)


def read_setup(api_url: str, token: str, device_id: str) -> ObservedSetup | None:
    """The device's setup checklist; None when the cloud has no such device."""
    path = f"/devices/{urllib.parse.quote(device_id, safe='')}/setup"
    try:
        setup = _get(api_url, token, path, {})
    except CloudUnreadable as exc:
        if "answered 404" in str(exc):
            return None
        raise
    steps = tuple((s["id"], s["state"], s.get("reason")) for s in setup["steps"])
    return ObservedSetup(bool(setup["activated"]), _maybe_epoch(setup["activated_at"]), steps)


def read_outreach(
    api_url: str, token: str, device_ids: Sequence[str], since_s: float
) -> tuple[ObservedOutreach, ...]:
    """The fleet's outreach items created at or after ``since_s``. The API lists the
    newest first in one page: a full page whose oldest item is newer than ``since_s``
    may have left some of the run's items out, and is refused."""
    listed = _get(api_url, token, "/outreach", {"limit": MAX_OUTREACH})
    items = [ObservedOutreach(o["device_id"], o["kind"], _epoch(o["created_at"])) for o in listed]
    if len(items) >= MAX_OUTREACH and min(i.created_at_s for i in items) >= since_s:
        raise CloudUnreadable(
            f"the cloud lists {MAX_OUTREACH} outreach items or more since the start"
        )
    fleet = set(device_ids)
    return tuple(i for i in items if i.device_id in fleet and i.created_at_s >= since_s)


def read_stored_seqs(
    api_url: str, token: str, device_id: str, since_s: float, page_size: int = PAGE
) -> list[int]:
    """Every seq stored for the device from ``since_s`` on, once per stored row. A page
    starts a millisecond before the last page's newest time (times travel as ISO text
    in microseconds) and skips the rows the last page already held."""
    seqs: list[int] = []
    boundary: float | None = None
    seen_at_boundary = 0
    path = f"/devices/{urllib.parse.quote(device_id, safe='')}/telemetry"
    while True:
        since = since_s if boundary is None else boundary - 0.001
        try:
            page = _get(api_url, token, path, {"since": since, "limit": page_size})["points"]
        except CloudUnreadable as exc:
            if "answered 404" in str(exc):
                return []  # the cloud never heard of the device: nothing stored
            raise
        times = [_epoch(p["ts"]) for p in page]
        fresh = page
        if boundary is not None:
            earlier = sum(1 for t in times if t < boundary)
            fresh = page[earlier + seen_at_boundary :]
        seqs.extend(int(p["seq"]) for p in fresh)
        if len(page) < page_size:
            return seqs
        at_newest = sum(1 for t in times if t == times[-1])
        if at_newest == len(page):
            raise CloudUnreadable(f"{device_id} has more than {page_size} samples at one time")
        boundary, seen_at_boundary = times[-1], at_newest


def observe_cloud(
    api_url: str,
    token: str,
    device_ids: Sequence[str],
    since_s: float,
    reads: Collection[str] = (),
) -> CloudObservation:
    """The fleet's incidents and stored seqs, plus each device's setup and the fleet's
    outreach items when ``reads`` names them; an unreadable cloud gives an observation
    whose ``error`` says why (the expectations that need it fail with that reason)."""
    wait_settled(api_url)
    try:
        incidents = read_incidents(api_url, token, device_ids, since_s)
        stored = {d: read_stored_seqs(api_url, token, d, since_s) for d in device_ids}
        setups = {d: read_setup(api_url, token, d) for d in device_ids} if "setup" in reads else {}
        outreach = (
            read_outreach(api_url, token, device_ids, since_s) if "outreach" in reads else None
        )
    except CloudUnreadable as exc:
        return CloudObservation(error=str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        return CloudObservation(error=f"the cloud answered in an unexpected shape: {exc!r}")
    return CloudObservation(incidents, stored, setups=setups, outreach=outreach)
