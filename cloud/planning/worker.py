"""The outreach planning worker: reads what happened (escalations, verified fixes, stalled
setups, support news, wear forecasts) and stores the planner's drafts as outreach items,
which delivery then brings to owners on their terms.

Why a thread with a clock of its own: forecasts are due on a schedule and feedback
questions wait until a fix had time to hold, whether or not anything else happens. Every
source is read after a watermark kept in the database, so a restart neither loses a fact
nor plans one twice; the store's per-reason dedupe covers a crash between storing an
item and moving the mark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cloud.db.outreach import OutreachStore
from cloud.db.outreach_facts import OutreachFacts
from cloud.db.planner_marks import PlannerMarks
from cloud.outreach.items import OutreachDraft
from cloud.outreach.planner import (
    FailureForecast,
    FeedbackTrigger,
    OutreachPolicy,
    WearConfirmation,
    plan,
)
from cloud.polling import PollingThread
from device_agent.clock import Clock

log = logging.getLogger("aftercare.planning")

Forecasts = Callable[[float], list[FailureForecast]]
"""Wear forecasts due at this clock time (empty when none is due)."""


@dataclass
class PlanningStats:
    rounds: int = 0
    items: int = 0
    errors: int = 0


class PlanningWorker:
    """``start``/``stop`` around the service's life; ``plan_once`` for one round."""

    def __init__(
        self,
        facts: OutreachFacts,
        outreach: OutreachStore,
        marks: PlannerMarks,
        clock: Clock,
        *,
        forecasts: Forecasts | None = None,
        refresh_setup: Callable[[], None] | None = None,
        policy: OutreachPolicy | None = None,
        poll_s: float = 5.0,
        refresh_s: float = 60.0,
    ) -> None:
        self.facts = facts
        self.outreach = outreach
        self.marks = marks
        self.clock = clock
        self.forecasts = forecasts
        self.refresh_setup = refresh_setup
        """Brings stalled setups' support items up to date before they are read, at most
        every ``refresh_s`` real seconds (it reads every device's setup)."""
        self.refresh_s = refresh_s
        self._refreshed = float("-inf")
        self.policy = policy or OutreachPolicy()
        self.confirmation = WearConfirmation(self.policy.confirm_rounds)
        self.poll_s = poll_s
        self.stats = PlanningStats()
        self._loop = PollingThread("outreach-planning", self.plan_once, poll_s, self._failed)

    @property
    def alive(self) -> bool:
        return self._loop.alive

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _failed(self) -> None:
        self.stats.errors += 1

    def plan_once(self) -> int:
        """One round: read every source after its mark, store the drafts, move the marks.
        Returns how many new items were stored."""
        now = self.clock.now()
        if self.refresh_setup is not None and time.monotonic() >= self._refreshed + self.refresh_s:
            self._refreshed = time.monotonic()
            self.refresh_setup()
        marks = self.marks.load()
        escalations = self.facts.escalations(marks.get("escalations", 0.0))
        stuck = self.facts.stuck_setups(marks.get("stuck_setups", 0.0))
        support = self.facts.support_updates(marks.get("support_updates", 0.0))
        fixes = self.facts.verified_fixes(marks.get("verified_fixes", 0.0))
        resolved = self.facts.resolved_support(marks.get("resolved_support", 0.0))
        visits = self.facts.service_visits(marks.get("service_visits", 0.0))
        ripe_fixes = _ripe(fixes, now, self.policy)
        ripe_resolved = _ripe(resolved, now, self.policy)
        ripe_visits = _ripe(visits, now, self.policy)
        forecasts = self.forecasts(now) if self.forecasts is not None else []
        owners = {f.owner_id for f in escalations if f.owner_id is not None}
        owners |= {f.owner_id for f in forecasts if f.owner_id is not None}
        drafts = plan(
            now,
            forecasts=forecasts,
            escalations=escalations,
            stuck=stuck,
            support=support,
            feedback=[*ripe_fixes, *ripe_resolved, *ripe_visits],
            time_zones={o: self.outreach.preferences(o).preferences.time_zone for o in owners},
            policy=self.policy,
        )
        if forecasts:
            drafts = self.confirmation.confirm(drafts, forecasts)
        stored = self._store(drafts)
        self.marks.advance(
            {
                "escalations": max((e.escalated_at for e in escalations), default=None),
                "stuck_setups": max((s.opened_at for s in stuck), default=None),
                "support_updates": max((u.at for u in support), default=None),
                "verified_fixes": max((f.at for f in ripe_fixes), default=None),
                "resolved_support": max((f.at for f in ripe_resolved), default=None),
                "service_visits": max((f.at for f in ripe_visits), default=None),
            }
        )
        self.stats.rounds += 1
        self.stats.items += stored
        return stored

    def _store(self, drafts: Iterable[OutreachDraft]) -> int:
        stored = 0
        for draft in drafts:
            if draft.owner_id is None:
                continue  # nobody to reach: the service team sees the source itself
            if self.outreach.add(draft) is not None:
                stored += 1
        return stored


def _ripe(
    triggers: list[FeedbackTrigger], now: float, policy: OutreachPolicy
) -> list[FeedbackTrigger]:
    """The oldest triggers whose fix has had time to hold: a prefix in time order, so the
    mark never passes one still waiting."""
    ripe = []
    for trigger in triggers:
        if now - trigger.at < policy.feedback_delay_s:
            break
        ripe.append(trigger)
    return ripe
