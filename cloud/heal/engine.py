"""The remediation loop for incidents: choose a fix, send it, await the device's result,
verify recovery in the telemetry, then resolve, or try the next fix, or escalate.

Pure and clock-driven: the adapters feed it incidents, samples (with the signatures
diagnosis found), command results and the time, and carry out the :data:`Step` s it
returns (sign and publish a command, store an attempt, resolve or escalate an incident).
``tick`` fires the deadlines of devices that have gone quiet: a fix whose result never
comes, a recovery that never shows.

Safety, in the order it is checked:
- a fault that comes back within ``recurrence_s`` of a fix verified on the same device
  was not fixed: the telemetry only looked healthy for the hold. The verdict is taken
  back (the fleet's record of that fix counts a failure, not a success) and the incident
  goes to people, like one whose every fix failed, instead of the same fix being
  "verified" again and again;
- a device whose fixes all failed for a signature is left to people for
  ``handed_over_s``: its next incident of it escalates at once;
- a signature whose remediations keep failing on device after device (every fix tried, none
  verified) trips a breaker: new incidents of it are escalated at once instead of being
  auto-fixed, until ``breaker_cooldown_s``. Single attempts do not count: trying the
  wrong fix first is how the fleet learns, and the next fix may well work;
- a fix is only sent while its preconditions hold on the device's latest readings (a
  reading not reported does not count as holding); the loop waits for them at most the
  playbook's ``wait_s`` of the fixes left (``precondition_wait_s`` where none is given),
  then escalates;
- at most ``max_commands_per_hour`` commands per device;
- each fix at most its playbook ``max_attempts`` per incident.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cloud.heal.choice import FixKey, FixRecord, choose
from cloud.heal.playbook import Fix, Playbooks
from cloud.heal.verify import RecoveryCheck

__all__ = [
    "Attempt",
    "AttemptChanged",
    "Escalated",
    "Healed",
    "Remediation",
    "RemediationEngine",
    "SafetyLimits",
    "SendFix",
    "Step",
]

Status = Literal["waiting", "sent", "verifying", "healed", "escalated"]


@dataclass
class Attempt:
    """One fix sent for one incident, and what became of it."""

    number: int
    command_id: str
    action: str
    params: dict[str, str | int | float | bool]
    place: int
    sent_at: float
    timeout_s: float
    result_state: str | None = None
    result_at: float | None = None
    detail: str = ""
    check: RecoveryCheck | None = None
    verified: bool | None = None
    """True: recovery seen in the telemetry; False: not; None: pending."""

    @property
    def evidence(self) -> tuple[float, float] | None:
        """The stretch of telemetry that proved recovery."""
        check = self.check
        if check is None or check.recovered_since is None or check.last_sample_at is None:
            return None
        return check.recovered_since, check.last_sample_at


@dataclass
class Remediation:
    incident_id: int
    device_id: str
    model: str
    signature: str
    fixes: tuple[Fix, ...]
    started_at: float
    attempts: list[Attempt] = field(default_factory=list)
    status: Status = "waiting"
    waiting_since: float = 0.0
    reason: str = ""

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.status in ("sent", "verifying") else None

    def tries(self, place: int) -> int:
        return sum(1 for a in self.attempts if a.place == place)


@dataclass(frozen=True)
class SendFix:
    remediation: Remediation
    attempt: Attempt
    fix: Fix


@dataclass(frozen=True)
class AttemptChanged:
    remediation: Remediation
    attempt: Attempt


@dataclass(frozen=True)
class Healed:
    remediation: Remediation
    attempt: Attempt


@dataclass(frozen=True)
class Escalated:
    remediation: Remediation
    reason: str


Step = SendFix | AttemptChanged | Healed | Escalated


@dataclass(frozen=True)
class SafetyLimits:
    max_commands_per_hour: int = 6
    precondition_wait_s: float = 3600.0
    breaker_window: int = 10
    """The latest finished remediations per (model, signature) the breaker looks at..."""
    breaker_failures: int = 8
    """...and how many among them that tried every fix in vain trip it."""
    breaker_cooldown_s: float = 86_400.0
    recurrence_s: float = 86_400.0
    """A fault back this soon after a verified fix on the same device means the fix did
    not hold (faults that last until fixed come back within hours of a fix that only
    masked them: a restart that emptied a leaking heap, a cleaning that cooled a broken
    compressor for a while)."""
    handed_over_s: float = 7 * 86_400.0
    """How long a device whose fixes all failed for a signature is left to people (about
    the time to book and make a service visit): a new incident of it escalates at once
    rather than re-sending fixes already seen to fail."""


class RemediationEngine:
    """Every active remediation, the fleet's fix records, and the safety state."""

    def __init__(
        self,
        playbooks: Playbooks,
        records: Mapping[FixKey, FixRecord] | None = None,
        *,
        rng: random.Random | None = None,
        limits: SafetyLimits | None = None,
    ) -> None:
        self.playbooks = playbooks
        self.records = {key: dataclasses.replace(r) for key, r in (records or {}).items()}
        """Copies: the engine learns into them, never into its caller's records."""
        self.rng = rng or random.Random()
        self.limits = limits or SafetyLimits()
        self.active: dict[int, Remediation] = {}
        self._latest: dict[str, Mapping[str, float]] = {}
        self._sent: dict[str, deque[float]] = {}
        self._outcomes: dict[tuple[str, str], deque[tuple[str, bool]]] = {}
        """(device, healed) of the latest finished remediations per (model, signature)."""
        self._handed_over: dict[tuple[str, str], float] = {}
        """When (device, signature) was escalated with every fix tried."""
        self._tripped_until: dict[tuple[str, str], float] = {}
        self._verified: dict[tuple[str, str], tuple[float, str]] = {}
        """When (device, signature) was last healed, and by which action."""

    # -- inputs -----------------------------------------------------------------------
    def start(
        self, incident_id: int, device_id: str, model: str, signature: str, now: float
    ) -> list[Step]:
        """An incident opened: plan its remediation (or escalate it at once)."""
        fixes = self.playbooks.fixes_for(model, signature)
        remediation = Remediation(incident_id, device_id, model, signature, fixes, now)
        remediation.waiting_since = now
        self.active[incident_id] = remediation
        if not fixes:
            return self._escalate(remediation, "no playbook fix for this signature")
        healed_at, action = self._verified.pop((device_id, signature), (float("-inf"), ""))
        if now - healed_at < self.limits.recurrence_s:
            self._unlearn((model, signature, action))
            self._remediation_ended(remediation, healed=False, now=now)
            return self._escalate(
                remediation,
                f"it came back {now - healed_at:.0f} s after {action} was verified: "
                "that fix did not hold",
            )
        handed_over = self._handed_over.get((device_id, signature), float("-inf"))
        if now < handed_over + self.limits.handed_over_s:
            return self._escalate(
                remediation,
                f"every fix failed on this device {now - handed_over:.0f} s ago: "
                "it is with service",
            )
        if now < self._tripped_until.get((model, signature), float("-inf")):
            return self._escalate(
                remediation, f"auto-fix paused: fixes for {signature} keep failing on the fleet"
            )
        return self._next(remediation, now)

    def observe(
        self, device_id: str, ts: float, metrics: Mapping[str, float], found: frozenset[str]
    ) -> list[Step]:
        """A scored sample of ``device_id``: its readings and the signatures found."""
        self._latest[device_id] = metrics
        steps: list[Step] = []
        for remediation in self._of(device_id):
            attempt = remediation.current
            if remediation.status == "verifying" and attempt is not None and attempt.check:
                attempt.check.observe(ts, metrics, found)
                steps += self._judge(remediation, attempt, ts)
            elif remediation.status == "waiting":
                steps += self._next(remediation, ts)
        return steps

    def result(
        self, device_id: str, command_id: str, state: str, detail: str, ts: float
    ) -> list[Step]:
        """The device's terminal report for a command."""
        for remediation in self._of(device_id):
            attempt = remediation.current
            if attempt is None or attempt.command_id != command_id or remediation.status != "sent":
                continue
            attempt.result_state, attempt.result_at, attempt.detail = state, ts, detail
            if state == "done":
                fix = remediation.fixes[attempt.place]
                attempt.check = RecoveryCheck(fix.verify, remediation.signature, ts)
                remediation.status = "verifying"
                return [AttemptChanged(remediation, attempt)]
            return self._failed(remediation, attempt, ts, learn=state != "refused")
        return []

    def tick(self, now: float) -> list[Step]:
        """Deadlines: results that never came, recoveries that never showed, waits."""
        steps: list[Step] = []
        for remediation in list(self.active.values()):
            attempt = remediation.current
            if remediation.status == "sent" and attempt is not None:
                if now > attempt.sent_at + attempt.timeout_s:
                    attempt.result_state, attempt.result_at = "timed_out", now
                    attempt.detail = f"no result within {attempt.timeout_s:.0f} s"
                    steps += self._failed(remediation, attempt, now, learn=True)
            elif remediation.status == "verifying" and attempt is not None and attempt.check:
                attempt.check.tick(now)
                steps += self._judge(remediation, attempt, now)
            elif remediation.status == "waiting":
                steps += self._next(remediation, now)
        return steps

    def forget(self, incident_id: int) -> None:
        """Stop remediating (the incident was closed by other means)."""
        self.active.pop(incident_id, None)

    # -- the loop ---------------------------------------------------------------------
    def _of(self, device_id: str) -> list[Remediation]:
        return [r for r in self.active.values() if r.device_id == device_id]

    def _judge(self, remediation: Remediation, attempt: Attempt, now: float) -> list[Step]:
        check = attempt.check
        if check is None or check.verdict == "pending":
            return []
        key = (remediation.model, remediation.signature, attempt.action)
        self._learn(key, check.verdict == "verified", now)
        attempt.verified = check.verdict == "verified"
        if attempt.verified:
            remediation.status = "healed"
            self.active.pop(remediation.incident_id, None)
            self._verified[(remediation.device_id, remediation.signature)] = (now, attempt.action)
            self._remediation_ended(remediation, healed=True, now=now)
            return [AttemptChanged(remediation, attempt), Healed(remediation, attempt)]
        attempt.detail = check.reason
        return [AttemptChanged(remediation, attempt), *self._advance(remediation, now)]

    def _failed(
        self, remediation: Remediation, attempt: Attempt, now: float, *, learn: bool
    ) -> list[Step]:
        attempt.verified = False
        if learn:
            self._learn((remediation.model, remediation.signature, attempt.action), False, now)
        return [AttemptChanged(remediation, attempt), *self._advance(remediation, now)]

    def _advance(self, remediation: Remediation, now: float) -> list[Step]:
        remediation.status = "waiting"
        remediation.waiting_since = now
        return self._next(remediation, now)

    def _next(self, remediation: Remediation, now: float) -> list[Step]:
        """Send the best fix that may be sent now, wait, or escalate."""
        left = [
            place
            for place, fix in enumerate(remediation.fixes)
            if remediation.tries(place) < fix.max_attempts
        ]
        if not left:
            self._remediation_ended(remediation, healed=False, now=now)
            return self._escalate(remediation, "every playbook fix was tried without recovery")
        metrics = self._latest.get(remediation.device_id, {})
        ready = [
            place
            for place in left
            if all(c.holds(metrics) for c in remediation.fixes[place].preconditions)
        ]
        if ready and self._may_send(remediation.device_id, now):
            return [self._send(remediation, ready, now)]
        waits = [remediation.fixes[place].wait_s for place in left]
        patience = max((w for w in waits if w is not None), default=None)
        if now - remediation.waiting_since > (patience or self.limits.precondition_wait_s):
            why = "preconditions never held" if not ready else "the device's command limit"
            return self._escalate(remediation, f"no fix could be sent: {why}")
        return []

    def _send(self, remediation: Remediation, ready: list[int], now: float) -> SendFix:
        records = [
            (place, self.records.get(self._key(remediation, place), FixRecord())) for place in ready
        ]
        place = choose(records, len(remediation.fixes), self.rng)
        fix = remediation.fixes[place]
        attempt = Attempt(
            number=len(remediation.attempts) + 1,
            command_id=f"fix-{remediation.incident_id}-{len(remediation.attempts) + 1}",
            action=fix.action,
            params=dict(fix.params),
            place=place,
            sent_at=now,
            timeout_s=fix.timeout_s,
        )
        remediation.attempts.append(attempt)
        remediation.status = "sent"
        self._sent.setdefault(remediation.device_id, deque()).append(now)
        return SendFix(remediation, attempt, fix)

    def _may_send(self, device_id: str, now: float) -> bool:
        sent = self._sent.setdefault(device_id, deque())
        while sent and sent[0] <= now - 3600.0:
            sent.popleft()
        return len(sent) < self.limits.max_commands_per_hour

    def _key(self, remediation: Remediation, place: int) -> FixKey:
        return remediation.model, remediation.signature, remediation.fixes[place].action

    def _learn(self, key: FixKey, success: bool, now: float) -> None:
        record = self.records.setdefault(key, FixRecord())
        if success:
            record.successes += 1
        else:
            record.failures += 1

    def _unlearn(self, key: FixKey) -> None:
        """A verified success that did not hold: count it as the failure it was."""
        record = self.records.setdefault(key, FixRecord())
        if record.successes > 0:
            record.successes -= 1
        record.failures += 1

    def _remediation_ended(self, remediation: Remediation, *, healed: bool, now: float) -> None:
        """Feed the breaker. It counts devices, not incidents: one broken part that keeps
        reopening its incident is not a fleet whose fixes stopped working."""
        device = remediation.device_id
        if not healed:
            self._handed_over[(device, remediation.signature)] = now
        key = (remediation.model, remediation.signature)
        latest = [o for o in self._outcomes.get(key, ()) if o[0] != device]
        window = deque(latest, maxlen=self.limits.breaker_window)
        window.append((device, healed))
        self._outcomes[key] = window
        failures = sum(1 for _, ok in window if not ok)
        if len(window) == window.maxlen and failures >= self.limits.breaker_failures:
            self._tripped_until[key] = now + self.limits.breaker_cooldown_s
            window.clear()  # after the cooldown, judge afresh

    def _escalate(self, remediation: Remediation, reason: str) -> list[Step]:
        remediation.status = "escalated"
        remediation.reason = reason
        self.active.pop(remediation.incident_id, None)
        return [Escalated(remediation, reason)]
