"""What the agent tells the cloud about setup: the device's facts and the outcome of its
self-checks, as ``setup.facts`` and ``setup.self_check`` events.

The agent runs them on first boot (no run recorded in its state file) and after every
reset; the cloud ticks the setup steps the checks verify. The event details are what the
wire accepts: at most :data:`~device_agent.contract.MAX_DETAIL_ENTRIES` entries, text cut
to 256 characters; a self-check's value is ``"ok"`` or ``"failed: <reason>"``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from device_agent.contract import MAX_DETAIL_ENTRIES, MAX_WIRE_INT, Scalar
from device_agent.hal import Hal, SelfChecking

log = logging.getLogger("aftercare.agent.setup")

SELF_CHECK_EVENT = "setup.self_check"
FACTS_EVENT = "setup.facts"
TRIGGER = "trigger"
"""The detail key saying why the checks ran (``first_boot``, ``reset``); not a check."""
FIRST_BOOT = "first_boot"
RESET = "reset"
RESET_ACTIONS = frozenset({"restart_firmware", "factory_reset"})
"""Actions after which the device is as if it booted anew: it checks itself again."""
MAX_TEXT = 256


def outcome(ok: bool, reason: str) -> str:
    """A check's value on the wire."""
    return "ok" if ok else f"failed: {reason or 'no reason given'}"[:MAX_TEXT]


def self_check_detail(hal: Hal, trigger: str) -> dict[str, Scalar] | None:
    """The self-check event's detail, or None for a HAL that cannot check itself. A
    self-check that raises is reported as a failed ``self_checks`` check, never lost."""
    if not isinstance(hal, SelfChecking):
        return None
    try:
        results = dict(hal.self_checks())
    except Exception as exc:
        log.exception("self_checks failed")
        results = {"self_checks": (False, f"{type(exc).__name__}: {exc}")}
    detail: dict[str, Scalar] = {TRIGGER: trigger}
    for name, (ok, reason) in list(results.items())[: MAX_DETAIL_ENTRIES - 1]:
        if name != TRIGGER:
            detail[name[:MAX_TEXT]] = outcome(bool(ok), str(reason))
    return detail


def facts_detail(hal: Hal, trigger: str) -> dict[str, Scalar]:
    """The facts event's detail: the HAL's facts that fit the wire (others are left out
    and counted in ``omitted``)."""
    try:
        facts: Mapping[str, Scalar] = hal.facts()
    except Exception as exc:
        log.exception("facts failed")
        facts = {"facts_error": f"{type(exc).__name__}: {exc}"}
    detail: dict[str, Scalar] = {TRIGGER: trigger}
    omitted = 0
    for name, value in facts.items():
        fitting = _fitting(value)
        if fitting is None or len(detail) >= MAX_DETAIL_ENTRIES - 1 or name in detail:
            omitted += 1
            continue
        detail[name[:MAX_TEXT]] = fitting
    if omitted:
        detail["omitted"] = omitted
    return detail


def _fitting(value: object) -> Scalar | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_WIRE_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return "".join(c for c in value if c.isprintable())[:MAX_TEXT]
    return None
