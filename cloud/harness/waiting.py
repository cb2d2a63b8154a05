"""What the stack's waits look for in the incidents the API lists, and how a wait that
timed out explains itself: pure functions over the API's JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Incident = dict[str, Any]
"""An incident as ``GET /api/v1/incidents`` lists it."""


class ExpectationNotMet(AssertionError):
    """A wait ended without what it waited for. An AssertionError, so pytest reports it
    as a failed expectation with the message, not as an error in the harness."""


def matching(
    incidents: Sequence[Incident], signature: str | None = None, device_id: str | None = None
) -> list[Incident]:
    """Incidents with this signature (any when None) on this device (any when None)."""
    return [
        i
        for i in incidents
        if (signature is None or i["signature"] == signature)
        and (device_id is None or i["device_id"] == device_id)
    ]


def verified_fix(incident: Incident) -> dict[str, Any] | None:
    """The fix attempt the telemetry verified, if the incident has one."""
    for attempt in incident.get("fix_attempts", []):
        if attempt.get("verified") is True:
            return dict(attempt)
    return None


def describe(incidents: Sequence[Incident]) -> str:
    """One line per incident with what a reader needs to see why a wait failed."""
    if not incidents:
        return "  (no incidents at all)"
    lines = []
    for i in incidents:
        attempts = ", ".join(
            f"{a['action']}={a.get('result_state')}/verified={a.get('verified')}"
            for a in i.get("fix_attempts", [])
        )
        lines.append(
            f"  #{i['id']} {i['signature']} on {i['device_id']}: {i['status']}"
            + (f"; fixes: {attempts}" if attempts else "; no fix sent")
        )
    return "\n".join(lines)


def not_met(
    what: str,
    signature: str | None,
    device_id: str | None,
    timeout_s: float,
    device_s: float,
    incidents: Sequence[Incident],
) -> ExpectationNotMet:
    """The failure of a wait: what was awaited, how long (real and device time), and
    every incident the cloud had instead."""
    target = f"{what} {signature or '(any signature)'}"
    if device_id is not None:
        target += f" on {device_id}"
    return ExpectationNotMet(
        f"no {target} within {timeout_s:g} s ({device_s / 60:.0f} min of device time); "
        f"the cloud has {len(incidents)} incident(s):\n{describe(incidents)}"
    )
