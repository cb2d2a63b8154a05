"""The delivery worker: a thread that, every ``poll_s``, plans deliveries for new (and
snoozed-until-now) outreach items and sends the due ones through their channels.

Why a thread of its own: delivery is slow I/O (an SMTP session, a webhook that times
out) that must not hold up ingest or scoring, and its deadlines (a window opening at
09:00, a retry's backoff) come due when nothing else happens. Everything it does is in
the database first (:mod:`cloud.db.deliveries`), so stopping it, or a crash, loses
nothing; a clean stop hands back the claims it had not sent. One bad row is counted and
logged and the loop carries on.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloud.db.deliveries import Claim, DeliveryQueue, PlanningContext
from cloud.db.outreach import OutreachStore
from cloud.notify.message import DeliveryError, Outgoing, Sender
from cloud.outreach.habits import learn_habits
from cloud.outreach.preferences import Channel, OwnerPreferences
from cloud.outreach.schedule import DAY_S, Delivery, next_welcome, plan_delivery, welcome_at
from cloud.polling import PollingThread
from device_agent.clock import Clock

log = logging.getLogger("aftercare.notify")


class InAppSender:
    """The inbox: an item is in the owner's inbox once any delivery of it is sent, so
    sending in-app is only the queue's bookkeeping."""

    def send(self, message: Outgoing) -> None:
        return None


@dataclass
class DeliveryStats:
    planned: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0
    expired: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Retry:
    """Attempts allowed, and the first retry's delay (doubling each time, at most a day)."""

    max_attempts: int = 6
    backoff_s: float = 30.0

    def delay_s(self, attempts: int) -> float:
        return float(min(self.backoff_s * 2 ** max(0, attempts - 1), DAY_S))


class DeliveryWorker:
    """``start``/``stop`` around the service's life; ``step`` is one poll (tests call
    it directly for a deterministic run)."""

    def __init__(
        self,
        queue: DeliveryQueue,
        outreach: OutreachStore,
        senders: Mapping[Channel, Sender],
        clock: Clock,
        *,
        link_base: str = "http://127.0.0.1:8080",
        poll_s: float = 1.0,
        batch: int = 50,
        lease_s: float = 300.0,
        retry: Retry | None = None,
        expire_after_s: float = 30 * DAY_S,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.outreach = outreach
        self.senders = {"in_app": InAppSender(), **senders}
        self.clock = clock
        self.link_base = link_base.rstrip("/")
        self.poll_s = poll_s
        self.batch = batch
        self.lease_s = lease_s
        self.retry = retry or Retry()
        self.expire_after_s = expire_after_s
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.rng = rng
        self.stats = DeliveryStats()
        self._loop = PollingThread("delivery", self.step, poll_s, self._round_failed, daemon=True)

    @property
    def alive(self) -> bool:
        return self._loop.alive

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        """Finish the send in progress, hand back unsent claims, and end the thread."""
        self._loop.stop()
        self.queue.release(self.worker_id)

    def _round_failed(self) -> None:
        self.stats.errors += 1

    # -- one poll -------------------------------------------------------------------------
    def step(self) -> None:
        """Plan what waits to be planned, then send what is due."""
        now = self.clock.now()
        self.stats.planned += self.queue.plan_due(now, self.batch, self.decide)
        self.stats.expired += self.outreach.expire(now, self.expire_after_s)
        for claim in self.queue.claim_due(now, self.batch, self.worker_id, self.lease_s):
            if self._loop.stopping:
                break  # handed back by stop()
            try:
                self._deliver(claim)
            except Exception:
                self.stats.errors += 1
                log.exception("delivery=%s item=%s failed", claim.delivery.id, claim.item.id)

    def decide(self, context: PlanningContext) -> Sequence[Delivery]:
        """Pure planning with the owner's terms, limited to channels this cloud can send
        on, and (where the owner set no preference) their habits."""
        now = self.clock.now()
        prefs = self._sendable(context.preferences.preferences)
        habits = learn_habits(context.contacts, prefs.zone, now)
        advice = habits.advice(prefs, self.rng)
        return plan_delivery(context.item.urgency, prefs, now, context.taken, advice)

    def _sendable(self, prefs: OwnerPreferences) -> OwnerPreferences:
        """``prefs`` without the channels this cloud has no sender for (email without
        AFTERCARE_SMTP_URL): the owner is reached on what is left."""
        drop: dict[str, object] = {}
        if "email" not in self.senders:
            drop["email"] = None
        if "webhook" not in self.senders:
            drop["webhook_url"] = None
        if not drop:
            return prefs
        if prefs.preferred_channel is not None and prefs.preferred_channel not in self.senders:
            drop["preferred_channel"] = None
        return prefs.model_copy(update=drop)

    def _deliver(self, claim: Claim) -> None:
        delivery, item = claim.delivery, claim.item
        now = self.clock.now()
        prefs = claim.preferences.preferences
        if delivery.attempts > self.retry.max_attempts:
            self._give_up(claim, f"gave up after {delivery.attempts - 1} attempts")
            return
        if not delivery.critical and not welcome_at(prefs, now):
            until = next_welcome(prefs, now) or now + DAY_S
            self.queue.postpone(delivery.id, self.worker_id, until, "outside the owner's window")
            self.stats.postponed += 1
            return
        sender = self.senders.get(delivery.channel)
        message = Outgoing(delivery.id, item, claim.preferences, self._link(item.id), now)
        try:
            if sender is None:
                raise DeliveryError(f"this cloud cannot send {delivery.channel}", retryable=False)
            sender.send(message)
        except DeliveryError as exc:
            self._failed(claim, str(exc), exc.retryable, now)
            return
        self.queue.mark_sent(delivery.id, self.worker_id, self.clock.now())
        self.stats.sent += 1
        log.info(
            "delivery=%s item=%s device=%s sent by %s (attempt %d)",
            delivery.id, item.id, item.device_id, delivery.channel, delivery.attempts,
        )  # fmt: skip

    def _failed(self, claim: Claim, error: str, retryable: bool, now: float) -> None:
        attempts = claim.delivery.attempts
        if not retryable or attempts >= self.retry.max_attempts:
            self._give_up(claim, error)
            return
        retry_at = now + self.retry.delay_s(attempts)
        self.queue.mark_failed(claim.delivery.id, self.worker_id, error, retry_at)
        self.stats.retried += 1
        log.warning(
            "delivery=%s item=%s %s failed (attempt %d, again in %.0f s): %s",
            claim.delivery.id, claim.item.id, claim.delivery.channel, attempts,
            retry_at - now, error,
        )  # fmt: skip

    def _give_up(self, claim: Claim, error: str) -> None:
        """Final: the error is kept on the row, and the item still reaches the owner's
        inbox (the one channel that cannot fail)."""
        self.queue.mark_failed(claim.delivery.id, self.worker_id, error, None)
        self.queue.make_visible(claim.item.id, self.clock.now())
        self.stats.failed += 1
        log.error(
            "delivery=%s item=%s %s given up: %s",
            claim.delivery.id, claim.item.id, claim.delivery.channel, error,
        )  # fmt: skip

    def _link(self, item_id: int) -> str:
        return f"{self.link_base}/#outreach/{item_id}"
