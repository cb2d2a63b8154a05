"""Did the fix work? Judged from the telemetry, never from the device's word.

A device that reports ``done`` has only said it ran the action. Recovery is what the
following samples show: the incident's signature no longer found and every bound of the
playbook's rule met, without a break, for ``hold_s``, with that stretch starting within
``within_s`` of the device's report. A break after the start of the window leaves time
to start again while the window is open; after it, the fix has failed.

Two things would let a fix that did nothing pass for one, so the rule can exclude them:
- a fault that shows only under some conditions (a bad contact heats only under load)
  is judged only on samples taken under them (``observable_when``);
- a fix that works by changing the operating point for a while (less load) is judged
  only once that has worn off (``settle_s``).

Pure: fed samples in order and the clock, it answers ``pending``, ``verified`` or
``failed``, and says which stretch of telemetry it judged (the evidence a service
engineer can look at).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cloud.heal.playbook import Verification

__all__ = ["RecoveryCheck", "Verdict"]

Verdict = Literal["pending", "verified", "failed"]


@dataclass
class RecoveryCheck:
    """The recovery rule of one fix attempt, from the moment the device reported it done."""

    rule: Verification
    signature: str
    done_at: float
    recovered_since: float | None = None
    last_sample_at: float | None = None
    verdict: Verdict = "pending"
    reason: str = ""

    @property
    def judged_from(self) -> float:
        """The first moment whose samples count (the fix has settled)."""
        return self.done_at + self.rule.settle_s

    @property
    def deadline(self) -> float:
        """When recovery must have started."""
        return self.judged_from + self.rule.within_s

    def observe(self, ts: float, metrics: Mapping[str, float], found: frozenset[str]) -> Verdict:
        """Fold one sample (its readings and the signatures diagnosis found in it)."""
        if self.verdict != "pending" or ts < self.judged_from:
            return self.verdict
        if not all(c.holds(metrics) for c in self.rule.observable_when):
            self.recovered_since = None  # the hold must be seen where the fault could show
            return self._check_deadline(ts, "the fault had no chance to show")
        self.last_sample_at = ts
        healthy = self.signature not in found and all(
            bound.holds(metrics) is not False for bound in self.rule.bounds
        )
        if not healthy:
            self.recovered_since = None
            return self._check_deadline(ts, "the fault was still there")
        if self.recovered_since is None:
            if ts > self.deadline:
                return self._fail("recovery started after the window closed")
            self.recovered_since = ts
        if ts - self.recovered_since >= self.rule.hold_s:
            self.verdict = "verified"
            self.reason = (
                f"healthy for {ts - self.recovered_since:.0f} s from "
                f"{self.recovered_since - self.done_at:.0f} s after the fix"
            )
        return self.verdict

    def tick(self, now: float) -> Verdict:
        """Time passing without samples: a device gone quiet cannot prove recovery."""
        if self.verdict == "pending" and self.recovered_since is None:
            return self._check_deadline(now, "no recovery in the telemetry")
        if self.verdict == "pending" and now > self.deadline + self.rule.hold_s:
            return self._fail("the telemetry stopped before recovery had held")
        return self.verdict

    def _check_deadline(self, now: float, why: str) -> Verdict:
        if now > self.deadline:
            return self._fail(f"{why} {self.rule.within_s:.0f} s after the fix")
        return self.verdict

    def _fail(self, reason: str) -> Verdict:
        self.verdict = "failed"
        self.reason = reason
        return self.verdict
