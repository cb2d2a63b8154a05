"""Campaigns: a service user pushes one fix to a cohort of devices, in batches, and the
rollout stops itself when the fix does more harm than good.

The first batch is a canary (``canary_share`` of the cohort, at least one device); the
rest go ``batch_size`` at a time with ``pause_s`` between batches. Each device's fix is
judged like an incident's, from the telemetry (:class:`~cloud.heal.verify.RecoveryCheck`):
the campaign's ``signature`` no longer found (when it names one) and its bounds held for
``hold_s`` after the device's report. When a finished batch's verified-failure rate is
above ``max_failure_rate`` the campaign pauses with the reason; a person resumes or
aborts it.

Pure and clock-driven like the remediation engine; the worker carries out its sends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cloud.heal.playbook import Verification
from cloud.heal.verify import RecoveryCheck

__all__ = ["Campaign", "CampaignSend", "CampaignSpec", "Target", "spec_from"]

CampaignStatus = Literal["running", "paused", "aborted", "completed"]
TargetState = Literal["queued", "sent", "verifying", "verified", "failed"]


@dataclass(frozen=True)
class CampaignSpec:
    action: str
    params: Mapping[str, str | int | float | bool]
    verify: Verification
    signature: str | None = None
    canary_share: float = 0.05
    batch_size: int = 50
    pause_s: float = 600.0
    max_failure_rate: float = 0.2
    timeout_s: float = 120.0


def spec_from(data: Mapping[str, Any]) -> CampaignSpec:
    """A spec from its stored JSON form (the API's validated input)."""
    return CampaignSpec(
        action=str(data["action"]),
        params=dict(data.get("params", {})),
        verify=Verification.model_validate(data["verify"]),
        signature=data.get("signature"),
        canary_share=float(data.get("canary_share", 0.05)),
        batch_size=int(data.get("batch_size", 50)),
        pause_s=float(data.get("pause_s", 600.0)),
        max_failure_rate=float(data.get("max_failure_rate", 0.2)),
        timeout_s=float(data.get("timeout_s", 120.0)),
    )


@dataclass
class Target:
    device_id: str
    batch: int
    state: TargetState = "queued"
    command_id: str | None = None
    sent_at: float | None = None
    result_state: str | None = None
    detail: str = ""
    check: RecoveryCheck | None = None


@dataclass(frozen=True)
class CampaignSend:
    campaign_id: int
    target: Target


@dataclass
class Campaign:
    id: int
    spec: CampaignSpec
    targets: list[Target]
    status: CampaignStatus = "running"
    reason: str = ""
    batch: int = -1
    next_batch_at: float = float("-inf")
    changed: set[str] = field(default_factory=set)
    """Devices whose target moved since the worker last stored them."""

    @classmethod
    def plan(cls, campaign_id: int, spec: CampaignSpec, devices: Sequence[str]) -> Campaign:
        """The cohort in batches: a canary first, then ``batch_size`` at a time."""
        canary = max(1, math.ceil(spec.canary_share * len(devices))) if devices else 0
        targets = [Target(d, 0) for d in devices[:canary]]
        rest = devices[canary:]
        for start in range(0, len(rest), spec.batch_size):
            number = 1 + start // spec.batch_size
            targets += [Target(d, number) for d in rest[start : start + spec.batch_size]]
        return cls(campaign_id, spec, targets, status="running" if devices else "completed")

    @property
    def batches(self) -> int:
        return max((t.batch for t in self.targets), default=-1) + 1

    def batch_failure_rate(self, batch: int) -> float:
        judged = [t for t in self.targets if t.batch == batch and t.state in ("verified", "failed")]
        failed = sum(1 for t in judged if t.state == "failed")
        return failed / len(judged) if judged else 0.0

    def step(self, now: float) -> list[CampaignSend]:
        """Start the next batch when the current one is judged and the pause is over;
        pause the campaign instead when the batch failed too often."""
        if self.status != "running":
            return []
        current = [t for t in self.targets if t.batch == self.batch]
        if any(t.state in ("queued", "sent", "verifying") for t in current):
            return []
        if self.batch >= 0 and self.next_batch_at == float("-inf"):
            rate = self.batch_failure_rate(self.batch)
            if rate > self.spec.max_failure_rate:
                self.status = "paused"
                self.reason = (
                    f"batch {self.batch} failed verification on {rate:.0%} of its devices "
                    f"(the limit is {self.spec.max_failure_rate:.0%})"
                )
                return []
            self.next_batch_at = now + self.spec.pause_s
        if now < self.next_batch_at:
            return []
        if self.batch + 1 >= self.batches:
            self.status = "completed"
            return []
        self.batch += 1
        self.next_batch_at = float("-inf")
        sends = []
        for target in self.targets:
            if target.batch == self.batch:
                target.state = "sent"
                target.sent_at = now
                target.command_id = f"campaign-{self.id}-{target.device_id}"[:64]
                self.changed.add(target.device_id)
                sends.append(CampaignSend(self.id, target))
        return sends

    def result(self, device_id: str, command_id: str, state: str, detail: str, ts: float) -> None:
        target = self._target(device_id)
        if target is None or target.command_id != command_id or target.state != "sent":
            return
        target.result_state, target.detail = state, detail
        if state == "done":
            target.state = "verifying"
            target.check = RecoveryCheck(self.spec.verify, self.spec.signature or "", ts)
        else:
            target.state = "failed"
        self.changed.add(device_id)

    def observe(
        self, device_id: str, ts: float, metrics: Mapping[str, float], found: frozenset[str]
    ) -> None:
        target = self._target(device_id)
        if target is not None and target.state == "verifying" and target.check is not None:
            self._judged(target, target.check.observe(ts, metrics, found))

    def tick(self, now: float) -> list[CampaignSend]:
        for target in self.targets:
            if target.state == "sent" and target.sent_at is not None:
                if now > target.sent_at + self.spec.timeout_s:
                    target.state, target.detail = "failed", "no result in time"
                    self.changed.add(target.device_id)
            elif target.state == "verifying" and target.check is not None:
                self._judged(target, target.check.tick(now))
        return self.step(now)

    def resume(self, now: float) -> None:
        if self.status == "paused":
            self.status, self.reason = "running", ""
            self.next_batch_at = now  # the person who resumed has looked at the batch

    def abort(self, reason: str) -> None:
        if self.status in ("running", "paused"):
            self.status, self.reason = "aborted", reason

    @property
    def watching(self) -> set[str]:
        return {t.device_id for t in self.targets if t.state == "verifying"}

    def _judged(self, target: Target, verdict: str) -> None:
        if verdict == "pending" or target.check is None:
            return
        target.state = "verified" if verdict == "verified" else "failed"
        target.detail = target.check.reason
        self.changed.add(target.device_id)

    def _target(self, device_id: str) -> Target | None:
        return next((t for t in self.targets if t.device_id == device_id), None)
