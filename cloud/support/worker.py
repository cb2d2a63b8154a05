"""The support worker: collects each new request's diagnostics and runs the SLA clocks,
on its own thread and the injected clock.

Why a loop of its own: a request's deadlines (no bundle within the timeout, no first
response or resolution in time) must fire when nothing else happens, on a quiet night
or for a device that has gone silent. Each tick reads what it needs from the database
and writes every step as it happens, so a cloud restart picks up where it left off:
a request collecting when the cloud stopped is asked again or falls back, an overdue
one escalates on the first tick after the start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.remediation import RemediationStore
from cloud.db.support import SupportRequestRow, SupportStore
from cloud.db.telemetry import TelemetryStore
from cloud.heal.signing import CommandSigner
from cloud.polling import PollingThread
from cloud.support.sla import SlaClock, new_escalations, next_collect_step
from cloud.support.summary import cloud_summary, iso
from device_agent import contract
from device_agent.clock import Clock
from device_agent.contract import Channel
from device_agent.diagnostics import COLLECT_DIAGNOSTICS

log = logging.getLogger("aftercare.support")

SUMMARY_MAX_SAMPLES = 5000
UNRESOLVED_INCIDENTS = ("open", "mitigating", "escalated")


@dataclass
class SupportStats:
    requested: int = 0
    bundles: int = 0
    fallbacks: int = 0
    escalated: int = 0
    errors: int = 0


class SupportWorker:
    """``start``/``stop`` around the service's life; ``tick`` is one pass (tests with a
    ManualClock call it directly)."""

    def __init__(
        self,
        store: SupportStore,
        telemetry: TelemetryStore,
        incidents: IncidentStore,
        remediation: RemediationStore,
        signer: CommandSigner,
        publish: Callable[[str, bytes], None],
        clock: Clock,
        *,
        timeout_s: float = 120.0,
        summary_window_s: float = 86_400.0,
        poll_s: float = 1.0,
    ) -> None:
        self.store = store
        self.telemetry = telemetry
        self.incidents = incidents
        self.remediation = remediation
        self.signer = signer
        self.publish = publish
        self.clock = clock
        self.timeout_s = timeout_s
        self.summary_window_s = summary_window_s
        self.poll_s = poll_s
        self.stats = SupportStats()
        self._loop = PollingThread("support", self.tick, poll_s, self._failed, wait_first=True)

    @property
    def alive(self) -> bool:
        return self._loop.alive

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _failed(self) -> None:
        self.stats.errors += 1

    def tick(self) -> None:
        now = self.clock.now()
        for request in self.store.collecting():
            self._collect(request, now)
        for request in self.store.awaiting_late_bundle():
            bundle_id = self.store.arrived_bundle(request)
            if bundle_id is not None:
                note = "The device's own bundle arrived after the cloud summary."
                if self.store.attach_bundle(request.id, bundle_id, now, note):
                    self.stats.bundles += 1
        for request in self.store.unresolved():
            self._check_sla(request, now)

    def _collect(self, request: SupportRequestRow, now: float) -> None:
        device = self.telemetry.get_device(request.device_id)
        bundle_id = self.store.arrived_bundle(request)
        result = None
        if request.command_id is not None:
            result = self.store.command_result(request.device_id, request.command_id)
        step = next_collect_step(
            now=now,
            sent_at=request.command_sent_at,
            online=device is not None and device.online,
            bundle_arrived=bundle_id is not None,
            result=result,
            timeout_s=self.timeout_s,
        )
        if step.action == "send":
            self._ask(request, now)
        elif step.action == "attach" and bundle_id is not None:
            if self.store.attach_bundle(request.id, bundle_id, now, None):
                self.stats.bundles += 1
                log.info("support=%s device=%s bundle attached", request.id, request.device_id)
        elif step.action == "fallback":
            note = step.note
            if device is not None:
                note += f" (last seen {iso(device.last_seen)})"
            self._fall_back(request, note + "; the cloud's own summary is attached.", now)

    def _ask(self, request: SupportRequestRow, now: float) -> None:
        signed = self.signer.issue(
            request.device_id,
            COLLECT_DIAGNOSTICS,
            {"request_id": str(request.id)},
            now=now,
            ttl_s=max(self.timeout_s, 60.0),
        )
        self.store.command_sent(request.id, signed.command_id, now)
        self.publish(contract.topic(request.device_id, Channel.COMMANDS), contract.encode(signed))
        self.stats.requested += 1
        log.info(
            "support=%s device=%s command=%s diagnostics requested",
            request.id,
            request.device_id,
            signed.command_id,
        )

    def _fall_back(self, request: SupportRequestRow, note: str, now: float) -> None:
        device = self.telemetry.get_device(request.device_id)
        samples = self.telemetry.recent(
            request.device_id, now - self.summary_window_s, SUMMARY_MAX_SAMPLES
        )
        found = [
            i
            for i in self.incidents.find(IncidentFilter(device_id=request.device_id), 50)
            if i.status in UNRESOLVED_INCIDENTS
        ]
        attempts = self.remediation.attempts(i.id for i in found)
        incidents = [
            {**i.__dict__, "fix_attempts": [a.__dict__ for a in attempts.get(i.id, [])]}
            for i in found
        ]
        summary = cloud_summary(
            device=device,
            samples=samples,
            window_s=self.summary_window_s,
            incidents=incidents,
            now=now,
        )
        if self.store.attach_summary(request.id, summary, note, now):
            self.stats.fallbacks += 1
            log.info("support=%s device=%s fallback: %s", request.id, request.device_id, note)

    def _check_sla(self, request: SupportRequestRow, now: float) -> None:
        clock = SlaClock(
            status=request.status,
            first_response_due=request.first_response_due,
            resolution_due=request.resolution_due,
            first_response_at=request.first_response_at,
            resolved_at=request.resolved_at,
            escalation=request.escalation,
        )
        reasons = new_escalations(clock, now)
        if reasons and self.store.escalate(request.id, reasons, now):
            self.stats.escalated += 1
            log.warning(
                "support=%s device=%s escalated: %s",
                request.id,
                request.device_id,
                "; ".join(reasons),
            )
