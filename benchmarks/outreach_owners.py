"""Part 2 of ``benchmarks/outreach.py``: a population of owners, what they really do, and
the checks of what delivery did to them.

Each owner has a time zone (several of them change offset for daylight saving within a
spring start), channels (in-app always, e-mail for most, a webhook for some), either
explicit preferences (their own windows, quiet hours, cap, and often a preferred channel
and hour) or none at all (the defaults; delivery then relies on what it learns), and a
hidden :class:`Habit`: how likely they answer on each channel, and the local hours in
which they answer at once. A contact outside those hours is sometimes answered later, at
the next of them. Delivery never sees a habit, only the answers.

The checks at the end read the delivery log only and judge it with ``zoneinfo`` and
their own arithmetic, not with the scheduling code they check.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from cloud.outreach.preferences import (
    Channel,
    ContactWindow,
    FrequencyCap,
    OwnerPreferences,
    QuietHours,
    default_preferences,
)

HOUR_S = 3_600.0
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S

ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "UTC",
)
"""Five of them change their offset between March and May (two of them twice a year in
opposite directions: Sydney falls back in April)."""

DEFAULT_ACTIVE = ((8, 10), (12, 13), (17, 19), (19, 21))
"""Local hours in which owners without preferences answer promptly."""


@dataclass(frozen=True)
class Habit:
    """Hidden from delivery: P(answer) per channel, the local hours answered at once, and
    the share of contacts outside them answered at the next such hour instead."""

    answer_p: Mapping[Channel, float]
    active_hours: frozenset[int]
    later_share: float = 0.35


@dataclass(frozen=True)
class Owner:
    """``zone`` is where the owner lives; ``prefs`` what the service holds, which for an
    owner who set nothing is the defaults, in UTC (the service knows no other zone)."""

    owner_id: str
    zone: str
    prefs: OwnerPreferences
    explicit: bool
    habit: Habit


def _rng(*parts: object) -> random.Random:
    text = ":".join(str(p) for p in parts)
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def draw_owners(count: int, seed: int, explicit_share: float = 0.4) -> list[Owner]:
    """``count`` owners, reproducible from ``seed``; about ``explicit_share`` of them set
    their own terms."""
    return [_owner(f"owner-{i:05d}", seed, explicit_share) for i in range(count)]


def _owner(owner_id: str, seed: int, explicit_share: float) -> Owner:
    rng = _rng("owner", seed, owner_id)
    zone = rng.choice(ZONES)
    email = f"{owner_id}@example.org" if rng.random() < 0.9 else None
    app_person = rng.random() < 0.5
    answer_p: dict[Channel, float] = {
        "in_app": 0.85 if app_person else 0.3,
        "email": 0.25 if app_person else 0.8,
        "webhook": 0.9,
    }
    if rng.random() >= explicit_share:
        first, last = rng.choice(DEFAULT_ACTIVE)
        habit = Habit(answer_p, frozenset(range(first, last)))
        return Owner(owner_id, zone, default_preferences(email), False, habit)
    return _explicit(owner_id, rng, zone, email, answer_p)


def _explicit(
    owner_id: str, rng: random.Random, zone: str, email: str | None, answer_p: dict[Channel, float]
) -> Owner:
    """An owner who set their terms, and mostly knows themselves: the preferred channel is
    the one they answer on, the preferred hour one they are around at."""
    style = rng.randrange(3)
    windows: tuple[ContactWindow, ...]
    active: tuple[int, ...]
    if style == 0:  # evenings on weekdays, days at weekends
        windows = (
            ContactWindow(days=(0, 1, 2, 3, 4), start=time(17), end=time(21)),
            ContactWindow(days=(5, 6), start=time(10), end=time(18)),
        )
        active = (18, 19)
    elif style == 1:  # working hours only
        windows = (ContactWindow(days=(0, 1, 2, 3, 4), start=time(8), end=time(17)),)
        active = (8, 9, 12)
    else:  # mornings every day
        windows = (ContactWindow(start=time(7), end=time(12)),)
        active = (7, 8)
    quiet = rng.choice([QuietHours(start=time(22), end=time(7)), QuietHours(), None])
    if quiet is not None and style == 2 and quiet.end > time(7):
        quiet = QuietHours(start=time(22), end=time(7))
    per_day, per_week = rng.choice([(1, 3), (2, 5), (1, 2), (None, 4)])
    webhook = f"https://hooks.example.org/{owner_id}" if rng.random() < 0.4 else None
    channels: list[Channel] = ["in_app"]
    channels += [c for c, on in (("email", email), ("webhook", webhook)) if on]  # type: ignore[misc]
    best = max(channels, key=lambda c: answer_p[c])
    prefs = OwnerPreferences(
        email=email,
        webhook_url=webhook,
        time_zone=zone,
        windows=windows,
        quiet_hours=quiet,
        cap=FrequencyCap(per_day=per_day, per_week=per_week),
        preferred_channel=best if rng.random() < 0.7 else None,
        preferred_hour=rng.choice(active) if rng.random() < 0.5 else None,
    )
    habit = Habit(answer_p, frozenset(active))
    return Owner(owner_id, zone, prefs, True, habit)


def answer_time(owner: Owner, channel: Channel, sent_at: float, rng: random.Random) -> float | None:
    """When ``owner`` answers a contact on ``channel`` sent at ``sent_at``, or None."""
    habit = owner.habit
    if rng.random() >= habit.answer_p.get(channel, 0.0):
        return None
    zone = ZoneInfo(owner.zone)
    if datetime.fromtimestamp(sent_at, zone).hour in habit.active_hours:
        return sent_at + rng.uniform(60.0, 1800.0)
    if rng.random() >= habit.later_share:
        return None
    at = (sent_at // HOUR_S + 1) * HOUR_S
    while at < sent_at + 2 * DAY_S:
        if datetime.fromtimestamp(at, zone).hour in habit.active_hours:
            return at + rng.uniform(0.0, 1800.0)
        at += HOUR_S
    return None


# -- independent checks of the delivery log ---------------------------------------------


@dataclass(frozen=True)
class SentContact:
    """One delivery as sent: the log the checks read."""

    owner_id: str
    item_id: int
    kind: str
    channel: Channel
    sent_at: float
    critical: bool
    answered_at: float | None
    device_id: str


def _minute(t: time) -> int:
    return t.hour * 60 + t.minute


def unwelcome(prefs: OwnerPreferences, ts: float) -> bool:
    """In quiet hours or outside every window, by the owner's local wall clock."""
    local = datetime.fromtimestamp(ts, ZoneInfo(prefs.time_zone))
    minute = local.hour * 60 + local.minute
    quiet = prefs.quiet_hours
    if quiet is not None:
        start, end = _minute(quiet.start), _minute(quiet.end)
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            return True
    return not any(  # the windows' own test, written out again
        local.weekday() in w.days and _minute(w.start) <= minute < _minute(w.end)
        for w in prefs.windows
    )


def over_cap(prefs: OwnerPreferences, times: Sequence[float]) -> int:
    """Contacts that are the (N+1)-th or later within a rolling span the cap limits to N."""
    ordered = sorted(times)
    over = 0
    for index, ts in enumerate(ordered):
        for limit, span in ((prefs.cap.per_day, DAY_S), (prefs.cap.per_week, WEEK_S)):
            if limit is None:
                continue
            within = sum(1 for t in ordered[: index + 1] if t > ts - span)
            if within > limit:
                over += 1
                break
    return over


def month_rates(
    sent: Sequence[SentContact], owners: Mapping[str, Owner], start_s: float, months: int
) -> dict[str, list[float]]:
    """Answered share of non-critical contacts per 30-day month: all owners, and owners
    with and without preferences of their own."""
    rates: dict[str, list[float]] = {}
    for group in ("all", "learned", "explicit"):
        per_month = []
        for month in range(months):
            low, high = start_s + month * 30 * DAY_S, start_s + (month + 1) * 30 * DAY_S
            chosen = [
                c
                for c in sent
                if low <= c.sent_at < high
                and not c.critical
                and (group == "all" or owners[c.owner_id].explicit == (group == "explicit"))
            ]
            answered = sum(c.answered_at is not None for c in chosen)
            per_month.append(answered / len(chosen) if chosen else float("nan"))
        rates[group] = per_month
    return rates
