"""Simulated owners: what people do in the owner app after unboxing, done over the
cloud's HTTP API so a scenario exercises the same routes the app calls.

Each device's owner opens an account (``POST /owners``), signs in (``POST /auth/token``),
claims the device with the code from its box (``POST /claims``), reads its setup
checklist and ticks every step the owner does (``POST /devices/{id}/setup/{step}``:
preferences, warranty). Device steps are left alone: they tick themselves from the
device's self-checks, which is what an activation expectation then judges.

Standard library HTTP only, like :mod:`firmware_sim.upload`; a failed call is kept with
its reason and the other owners carry on.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from device_agent.clock import Clock
from firmware_sim.upload import TIMEOUT_S, api_base

__all__ = ["OwnerActions", "OwnerFailed", "act_as_owners", "unbox_at"]

OWNER_DOMAIN = "owners.aftercare-sim.invalid"
"""Owner accounts are ``{device_id}@`` this domain: a reserved name, never a mailbox."""


class OwnerFailed(Exception):
    """An owner's call was refused or got no answer; the message says which and why."""


@dataclass
class OwnerActions:
    """What the simulated owners did: the steps each ticked, and each one's failure."""

    steps_done: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        steps = sum(len(s) for s in self.steps_done.values())
        text = f"{len(self.steps_done)} owners claimed their device and ticked {steps} steps"
        if self.failed:
            device, reason = next(iter(self.failed.items()))
            text += f"; {len(self.failed)} could not ({device}: {reason})"
        return text


def _call(
    api_url: str,
    path: str,
    *,
    token: str | None = None,
    body: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    method: str = "POST",
) -> Any:
    url = api_base(api_url) + path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data: bytes | None = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise OwnerFailed(f"{method} {path} answered {exc.code}: {exc.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OwnerFailed(f"{method} {path} failed: {exc}") from None


def _own(api_url: str, device_id: str, claim_code: str) -> list[str]:
    """One owner's unboxing; returns the owner steps ticked."""
    email = f"{device_id}@{OWNER_DOMAIN}".lower()
    password = secrets.token_urlsafe(18)
    _call(api_url, "/owners", body={"email": email, "password": password})
    signed_in = _call(api_url, "/auth/token", form={"username": email, "password": password})
    token = str(signed_in["access_token"])
    _call(api_url, "/claims", token=token, body={"claim_code": claim_code})
    setup = _call(api_url, f"/devices/{device_id}/setup", token=token, method="GET")
    ticked = []
    for step in setup["steps"]:
        if step["verified_by"] == "owner" and step["state"] != "done":
            _call(api_url, f"/devices/{device_id}/setup/{step['id']}", token=token)
            ticked.append(str(step["id"]))
    return ticked


def act_as_owners(api_url: str, claim_codes: Mapping[str, str]) -> OwnerActions:
    """Every device's owner unboxes it (claim, then the owner steps). Blocking: call it
    from a worker thread in async code."""
    actions = OwnerActions()
    for device_id, code in claim_codes.items():
        try:
            actions.steps_done[device_id] = _own(api_url, device_id, code)
        except (OwnerFailed, KeyError, TypeError) as exc:
            actions.failed[device_id] = str(exc)
    return actions


async def unbox_at(
    api_url: str, claim_codes: Mapping[str, str], at_s: float, clock: Clock, speed: float
) -> OwnerActions:
    """The owners act at device time ``at_s`` (a scenario's ``owners.steps_after_s``)."""
    await asyncio.sleep(max(0.0, at_s - clock.now()) / speed)
    return await asyncio.to_thread(act_as_owners, api_url, claim_codes)
