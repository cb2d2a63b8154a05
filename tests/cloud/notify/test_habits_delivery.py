"""Learned habits steer delivery for owners who set no preference: one answers email in
the evening and gets later items by email in the evening; one never reads email and
gets later items in the app."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cloud.db.repositories import Repositories
from cloud.outreach.preferences import FrequencyCap, OwnerPreferences
from cloud.outreach.responses import Answer
from device_agent.clock import ManualClock
from tests.cloud.notify.receivers import smtp_server
from tests.cloud.notify.test_delivery import clock, draft, owner, repos, worker

__all__ = ["clock", "repos"]  # the fixtures

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2025, 6, 16, 6, 0, tzinfo=UTC).timestamp()  # Monday 08:00 in Berlin
HOUR = 3600.0


def test_habits_choose_channel_and_hour(repos: Repositories, clock: ManualClock) -> None:
    defaults = OwnerPreferences()  # window 09:00-20:00, quiet 21:00-08:00
    terms = {
        "time_zone": "Europe/Berlin",
        "cap": FrequencyCap(per_day=1, per_week=None),
        "windows": defaults.windows,
        "quiet_hours": defaults.quiet_hours,
    }
    evening, _ = owner(repos, "eve", **terms)
    app_only, _ = owner(repos, "ian", **terms)
    clock.advance(START - clock.now())
    seen: dict[str, list[tuple[int, int, str]]] = {evening: [], app_only: []}
    with smtp_server() as mailbox:
        delivery = worker(repos, clock, mailbox.url)
        for hour in range(6 * 24):
            now = clock.now()
            if hour % 24 == 0:
                for who in (evening, app_only):
                    repos.outreach.add(draft(who, f"{who[-4:]}-{hour}", clock))
            delivery.step()
            for item in repos.outreach.items(status="delivered"):
                rows = repos.deliveries.for_items([item.id])[item.id]
                local = datetime.fromtimestamp(rows[0].sent_at or 0, BERLIN)
                if (
                    item.owner_id is not None
                    and (local.day, local.hour, rows[0].channel) not in seen[item.owner_id]
                ):
                    seen[item.owner_id].append((local.day, local.hour, rows[0].channel))
                if item.owner_id == evening and datetime.fromtimestamp(now, BERLIN).hour == 19:
                    repos.outreach.respond(item.id, evening, Answer("decline", now + 30 * 60))
            clock.advance(HOUR)
        assert len(mailbox.messages) == sum(c == "email" for v in seen.values() for *_, c in v)
    assert seen[evening][:2] == [(16, 9, "email"), (17, 9, "email")], (
        "no evidence: the window opens"
    )
    assert all(h == 19 and c == "email" for _, h, c in seen[evening][2:]), seen[evening]
    assert len(seen[evening]) == 6
    assert [c for *_, c in seen[app_only]] == ["email"] * 5 + ["in_app"], seen[app_only]
