"""What became of one fix sent for an incident, as the remediation worker tells it to
whoever mirrors fix outcomes elsewhere (the time-series export)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FixOutcome", "FixOutcomeListener"]


@dataclass(frozen=True)
class FixOutcome:
    """One attempt, judged: ``verified`` is whether the telemetry showed the recovery;
    ``result_state`` what the device reported of running it (``done``, ``failed``,
    ``refused``, ``timed_out``), so a fix that ran but did not help (done, not verified)
    is told apart from one that never ran. ``at`` is when it was judged (clock time)."""

    incident_id: int
    device_id: str
    model: str
    signature: str
    action: str
    attempt: int
    result_state: str | None
    verified: bool
    at: float


FixOutcomeListener = Callable[[FixOutcome], None]
"""Called in the remediation thread once per judged attempt (return fast)."""
