"""The remediation worker: carries the pure loop (:mod:`cloud.heal.engine`) out against
the database and the broker, on its own thread and its own clock.

Why a thread with a clock of its own: a fix's deadlines (no result within its timeout,
no recovery within its window) must fire for a device that has gone quiet, when nothing
else would wake the scoring path. Inputs arrive through a queue from the scoring worker
(each scored sample with the signatures found in it, only for devices under
remediation) and from ingest (command results); new incidents are read from the
database. Every step is written as it happens.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cloud.db.campaigns import CampaignStore, TargetRow
from cloud.db.records import StoredBatch
from cloud.db.remediation import AttemptRow, FixCounts, RemediationStore
from cloud.heal.campaign import Campaign, Target, spec_from
from cloud.heal.choice import FixRecord
from cloud.heal.engine import (
    Attempt,
    AttemptChanged,
    Escalated,
    Healed,
    Remediation,
    RemediationEngine,
    SendFix,
    Step,
)
from cloud.heal.outcome import FixOutcome, FixOutcomeListener
from cloud.heal.signing import CommandSigner
from device_agent import contract
from device_agent.clock import Clock
from device_agent.contract import Channel, CommandResult

log = logging.getLogger("aftercare.heal")

ACTIVE = ("open", "mitigating")
Observation = tuple[float, Mapping[str, float], frozenset[str]]
"""(ts, readings, signatures found) of one scored sample."""


@dataclass(frozen=True)
class _Samples:
    device_id: str
    observations: Sequence[Observation]


@dataclass(frozen=True)
class _Results:
    results: list[CommandResult]


@dataclass(frozen=True)
class _Disputed:
    incident_id: int
    model: str
    signature: str
    reason: str


@dataclass
class RemediationStats:
    sent: int = 0
    healed: int = 0
    escalated: int = 0
    errors: int = 0
    listener_errors: int = 0


class RemediationWorker:
    """``start``/``stop`` around the service's life; feed it with the two listeners."""

    def __init__(
        self,
        engine: RemediationEngine,
        store: RemediationStore,
        campaign_store: CampaignStore,
        signer: CommandSigner,
        publish: Callable[[str, bytes], None],
        clock: Clock,
        *,
        poll_s: float = 1.0,
        outcome_listeners: Sequence[FixOutcomeListener] = (),
    ) -> None:
        """``outcome_listeners`` hear of every attempt once it is judged (verified or
        not); they are called in the remediation thread and must return fast."""
        self.engine = engine
        self.store = store
        self.campaign_store = campaign_store
        self.campaigns: dict[int, Campaign] = {}
        self._campaign_status: dict[int, tuple[str, str]] = {}
        self.signer = signer
        self.publish = publish
        self.clock = clock
        self.poll_s = poll_s
        self.outcome_listeners = list(outcome_listeners)
        self.stats = RemediationStats()
        self._inbox: queue.Queue[_Samples | _Results | _Disputed | None] = queue.Queue()
        self._last_incident = 0
        self._next_poll = 0.0
        self._watched: frozenset[str] = frozenset()
        self._thread = threading.Thread(target=self._run, name="remediation")

    @classmethod
    def records_from(cls, store: RemediationStore) -> dict[tuple[str, str, str], FixRecord]:
        """What the fleet learned before this start."""
        return {
            (c.model, c.signature, c.action): FixRecord(c.successes, c.failures)
            for c in store.counts()
        }

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Open incidents are planned on the first poll; one whose fix was in flight when
        the cloud stopped goes to people (its attempt's fate is unknown)."""
        for incident_id in self.store.ids_with_status("mitigating"):
            self.store.set_status(
                incident_id, "escalated", self.clock.now(), "the cloud restarted during a fix"
            )
        self._thread.start()

    def stop(self) -> None:
        self._inbox.put(None)
        if self._thread.is_alive():
            self._thread.join()

    # -- listeners (called from other threads) ------------------------------------------
    def watching(self, device_id: str) -> bool:
        """Whether scored samples of this device are needed (a fix on it is judged)."""
        return device_id in self._watched

    def observe(self, device_id: str, observations: Sequence[Observation]) -> None:
        """Scoring listener: a device's scored samples with the signatures found."""
        if device_id in self._watched:
            self._inbox.put(_Samples(device_id, observations))

    def on_stored(self, stored: StoredBatch) -> None:
        """Ingest listener: command results the database has just stored."""
        if stored.results:
            self._inbox.put(_Results(stored.results))

    def owner_disputed(self, incident_id: int, model: str, signature: str, reason: str) -> None:
        """The owner of a device says a fix verified in its telemetry did not work (a low
        feedback rating): the incident reopens and the fix counts as failed. Thread-safe."""
        self._inbox.put(_Disputed(incident_id, model, signature, reason))

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        """Everything already queued is taken in before the clock's deadlines fire: a
        result or a sample that waited in the queue while the (scaled) clock moved on
        must count, not be overtaken by the timeout it answers."""
        while True:
            try:
                items = [self._inbox.get(timeout=self.poll_s), *self._queued()]
            except queue.Empty:
                items = []
            for item in items:
                if item is None:
                    return
                self._guarded(functools.partial(self._take, item))
            self._guarded(self._advance_clock)

    def _queued(self, at_most: int = 10_000) -> list[_Samples | _Results | _Disputed | None]:
        taken: list[_Samples | _Results | _Disputed | None] = []
        while len(taken) < at_most:
            try:
                taken.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return taken

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:
            self.stats.errors += 1
            log.exception("remediation step failed")

    def _take(self, item: _Samples | _Results | _Disputed) -> None:
        """One input: samples of a watched device, command results, an owner's dispute."""
        steps: list[Step] = []
        if isinstance(item, _Disputed):
            self._disputed(item)
            return
        if isinstance(item, _Samples):
            for ts, metrics, found in item.observations:
                steps += self.engine.observe(item.device_id, ts, metrics, found)
                for campaign in self.campaigns.values():
                    campaign.observe(item.device_id, ts, metrics, found)
        elif isinstance(item, _Results):
            for result in item.results:
                steps += self.engine.result(
                    result.device_id, result.command_id, result.state, result.detail, result.ts
                )
                for campaign in self.campaigns.values():
                    campaign.result(
                        result.device_id, result.command_id, result.state, result.detail, result.ts
                    )
        if steps:
            self._carry_out(steps, self.clock.now())

    def _advance_clock(self) -> None:
        """New incidents, deadlines, campaigns; then which devices' samples are needed."""
        now = self.clock.now()
        # The database is read at most once per poll_s, not per scored batch: with many
        # devices under remediation, samples arrive far more often than people act.
        poll = time.monotonic() >= self._next_poll
        steps: list[Step] = []
        if poll:
            self._next_poll = time.monotonic() + self.poll_s
            steps += self._new_incidents(now)
        steps += self.engine.tick(now)
        self._carry_out(steps, now)
        self._run_campaigns(now, poll)
        watched = {r.device_id for r in self.engine.active.values()}
        for campaign in self.campaigns.values():
            watched |= campaign.watching
        self._watched = frozenset(watched)

    # -- campaigns ----------------------------------------------------------------------
    def _run_campaigns(self, now: float, poll: bool) -> None:
        """Advance each campaign and store its changes; on a poll, first pick up new
        campaigns and people's resume/abort from the database."""
        if poll:
            self._read_campaigns(now)
        for campaign_id, campaign in list(self.campaigns.items()):
            for send in campaign.tick(now):
                self._send_campaign(campaign, send.target, now)
            self._store_campaign(campaign, now)
            if campaign.status in ("completed", "aborted"):
                del self.campaigns[campaign_id]

    def _read_campaigns(self, now: float) -> None:
        for row in self.campaign_store.all(("running", "paused")):
            if row.id not in self.campaigns:
                self.campaigns[row.id] = self._restored(row.id, row.spec, row.status, row.reason)
                self._campaign_status[row.id] = (row.status, row.reason)
            elif row.status == "running" != self._campaign_status[row.id][0]:
                self.campaigns[row.id].resume(now)  # a person resumed it
        for campaign_id, campaign in self.campaigns.items():
            stored = self.campaign_store.get(campaign_id)
            if stored is not None and stored.status == "aborted":
                campaign.abort(stored.reason)

    def _restored(
        self, campaign_id: int, spec: dict[str, object], status: str, reason: str
    ) -> Campaign:
        """A campaign as stored; a device whose fix was in flight when the cloud stopped
        counts as failed (its outcome is unknown)."""
        targets, interrupted = [], set()
        for row in self.campaign_store.targets(campaign_id):
            target = Target(row.device_id, row.batch)
            target.command_id, target.sent_at = row.command_id, row.sent_at
            target.result_state, target.detail = row.result_state, row.detail
            if row.state in ("queued", "verified", "failed"):
                target.state = row.state  # type: ignore[assignment]
            else:
                target.state, target.detail = "failed", "the cloud restarted during the fix"
                interrupted.add(row.device_id)
            targets.append(target)
        campaign = Campaign(campaign_id, spec_from(spec), targets, reason=reason)
        campaign.status = "paused" if status == "paused" else "running"
        campaign.batch = max((t.batch for t in targets if t.state != "queued"), default=-1)
        campaign.changed = interrupted
        return campaign

    def _send_campaign(self, campaign: Campaign, target: Target, now: float) -> None:
        assert target.command_id is not None
        signed = self.signer.issue(
            target.device_id,
            campaign.spec.action,
            dict(campaign.spec.params),
            now=now,
            ttl_s=max(campaign.spec.timeout_s, 60.0),
            command_id=target.command_id,
        )
        self.publish(contract.topic(target.device_id, Channel.COMMANDS), contract.encode(signed))
        self.stats.sent += 1

    def _store_campaign(self, campaign: Campaign, now: float) -> None:
        if campaign.changed:
            changed = [t for t in campaign.targets if t.device_id in campaign.changed]
            self.campaign_store.save_targets(
                campaign.id,
                [
                    TargetRow(
                        t.device_id,
                        0,
                        t.batch,
                        t.state,
                        t.command_id,
                        t.sent_at,
                        t.result_state,
                        t.detail,
                    )
                    for t in changed
                ],
            )
            campaign.changed.clear()
        status = (campaign.status, campaign.reason)
        if status != self._campaign_status.get(campaign.id):
            self.campaign_store.set_status(campaign.id, campaign.status, campaign.reason, now)
            self._campaign_status[campaign.id] = status
            log.info("campaign=%s %s %s", campaign.id, campaign.status, campaign.reason)

    def _new_incidents(self, now: float) -> list[Step]:
        steps: list[Step] = []
        for incident in self.store.opened_after(self._last_incident):
            self._last_incident = incident.id
            if incident.id in self.engine.active:
                continue
            steps += self.engine.start(
                incident.id, incident.device_id, incident.model or "", incident.signature, now
            )
        for incident_id, status in self.store.statuses(self._waiting()).items():
            if status not in ACTIVE:  # resolved or judged before any fix went out
                self.engine.forget(incident_id)
        return steps

    def _disputed(self, item: _Disputed) -> None:
        verified = [
            a for a in self.store.attempts([item.incident_id])[item.incident_id] if a.verified
        ]
        if verified:
            counts = self.store.dispute(item.model, item.signature, verified[-1].action)
            key = (counts.model, counts.signature, counts.action)
            self.engine.records[key] = FixRecord(counts.successes, counts.failures)
        if self.store.reopen(item.incident_id, self.clock.now(), item.reason):
            log.info("incident=%s reopened: %s", item.incident_id, item.reason)

    def _waiting(self) -> list[int]:
        return [i for i, r in self.engine.active.items() if r.status == "waiting"]

    def _carry_out(self, steps: list[Step], now: float) -> None:
        for step in steps:
            if isinstance(step, SendFix):
                self._send(step, now)
            elif isinstance(step, AttemptChanged):
                self._save(step.remediation, step.attempt)
                if step.attempt.verified is not None:
                    self._judged(step.remediation, step.attempt, now)
            elif isinstance(step, Healed):
                self._save(step.remediation, step.attempt)
                self._learned(step.remediation, step.attempt.action)
                self._move(step.remediation.incident_id, "resolved", now)
                self.stats.healed += 1
                log.info(
                    "incident=%s device=%s healed by %s",
                    step.remediation.incident_id,
                    step.remediation.device_id,
                    step.attempt.action,
                )
            elif isinstance(step, Escalated):
                # every fix of the signature: a fault back after a verified fix takes
                # that fix's success back, though this incident sent nothing
                for action in {fix.action for fix in step.remediation.fixes}:
                    self._learned(step.remediation, action)
                self._move(step.remediation.incident_id, "escalated", now, step.reason)
                self.stats.escalated += 1
                log.info(
                    "incident=%s device=%s escalated: %s",
                    step.remediation.incident_id,
                    step.remediation.device_id,
                    step.reason,
                )

    def _send(self, step: SendFix, now: float) -> None:
        remediation, attempt = step.remediation, step.attempt
        self._save(remediation, attempt)
        self._move(remediation.incident_id, "mitigating", now)
        # Stamped when it leaves, after the writes above: the device's expiry and the
        # result timeout must not lose the time the database took (many device seconds
        # on a fast clock).
        attempt.sent_at = self.clock.now()
        signed = self.signer.issue(
            remediation.device_id,
            attempt.action,
            attempt.params,
            now=attempt.sent_at,
            ttl_s=max(attempt.timeout_s, 60.0),
            command_id=attempt.command_id,
        )
        self.publish(
            contract.topic(remediation.device_id, Channel.COMMANDS), contract.encode(signed)
        )
        self.stats.sent += 1
        log.info(
            "incident=%s device=%s command=%s fix %s sent",
            remediation.incident_id,
            remediation.device_id,
            attempt.command_id,
            attempt.action,
        )

    def _move(self, incident_id: int, status: str, now: float, reason: str | None = None) -> None:
        """Change the incident's status unless people or detection closed it meanwhile."""
        if self.store.statuses([incident_id]).get(incident_id) in ACTIVE:
            self.store.set_status(incident_id, status, now, reason)

    def _save(self, remediation: Remediation, attempt: Attempt) -> None:
        evidence = attempt.evidence
        self.store.save_attempt(
            AttemptRow(
                command_id=attempt.command_id,
                incident_id=remediation.incident_id,
                number=attempt.number,
                device_id=remediation.device_id,
                action=attempt.action,
                params=dict(attempt.params),
                sent_at=attempt.sent_at,
                result_state=attempt.result_state,
                result_at=attempt.result_at,
                detail=attempt.detail,
                verified=attempt.verified,
                evidence_from=evidence[0] if evidence else None,
                evidence_to=evidence[1] if evidence else None,
            )
        )

    def _judged(self, remediation: Remediation, attempt: Attempt, now: float) -> None:
        """Tell the outcome listeners; one that fails is counted and logged, and the
        loop carries on (the attempt is stored already)."""
        outcome = FixOutcome(
            remediation.incident_id,
            remediation.device_id,
            remediation.model,
            remediation.signature,
            attempt.action,
            attempt.number,
            attempt.result_state,
            bool(attempt.verified),
            now,
        )
        for listener in self.outcome_listeners:
            try:
                listener(outcome)
            except Exception:
                self.stats.listener_errors += 1
                log.exception(
                    "incident=%s fix outcome listener %r failed", outcome.incident_id, listener
                )

    def _learned(self, remediation: Remediation, action: str) -> None:
        key = (remediation.model, remediation.signature, action)
        record = self.engine.records.get(key)
        if record is not None:
            self.store.save_counts([FixCounts(*key, record.successes, record.failures)])
