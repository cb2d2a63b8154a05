"""The delivery schedule across time zones and daylight-saving changes: nothing
non-critical outside the owner's windows or in quiet hours, the caps hold in every
rolling day and week, critical items go at once everywhere. The checks here judge local
wall time on their own, minute by minute, not with the code under test."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cloud.outreach.preferences import (
    ContactWindow,
    FrequencyCap,
    OwnerPreferences,
    QuietHours,
)
from cloud.outreach.schedule import DAY_S, WEEK_S, Advice, plan_delivery

ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Lord_Howe",  # a half-hour daylight-saving shift
    "Pacific/Chatham",  # UTC+12:45 / +13:45
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "UTC",
)


def _transitions(zone: ZoneInfo) -> list[float]:
    """Days in 2025-2026 whose UTC offset differs from the day before (a coarse scan)."""
    found, day = [], datetime(2025, 1, 1, tzinfo=UTC)
    while day.year < 2027:
        after = day + timedelta(days=1)
        if after.astimezone(zone).utcoffset() != day.astimezone(zone).utcoffset():
            found.append(after.timestamp())
        day = after
    return found or [datetime(2025, 6, 1, tzinfo=UTC).timestamp()]


TRANSITIONS = {name: _transitions(ZoneInfo(name)) for name in ZONES}


def local_minutes(ts: float, zone: ZoneInfo) -> tuple[int, int]:
    local = datetime.fromtimestamp(ts, zone)
    return local.weekday(), local.hour * 60 + local.minute


def welcome(prefs: OwnerPreferences, ts: float) -> bool:
    """Independent of the code under test: in some window, not in quiet hours."""
    weekday, minute = local_minutes(ts, ZoneInfo(prefs.time_zone))

    def m(t: time) -> int:
        return t.hour * 60 + t.minute

    quiet = prefs.quiet_hours
    if quiet is not None:
        qs, qe = m(quiet.start), m(quiet.end)
        if (qs <= minute < qe) if qs < qe else (minute >= qs or minute < qe):
            return False
    return any(weekday in w.days and m(w.start) <= minute < m(w.end) for w in prefs.windows)


def within_cap(points: list[float], cap: FrequencyCap) -> bool:
    """No half-open rolling span holds more than allowed (the fullest span starts at a
    contact)."""
    points = sorted(points)
    for limit, span in ((cap.per_day, DAY_S), (cap.per_week, WEEK_S)):
        if limit is None:
            continue
        for start in points:
            if sum(1 for p in points if start <= p < start + span) > limit:
                return False
    return True


minutes = st.integers(min_value=0, max_value=23 * 60)


@st.composite
def windows(draw: st.DrawFn) -> ContactWindow:
    start = draw(minutes)
    end = draw(st.integers(min_value=start + 30, max_value=min(start + 14 * 60, 23 * 60 + 59)))
    days = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    return ContactWindow(
        days=tuple(days), start=time(start // 60, start % 60), end=time(end // 60, end % 60)
    )


@st.composite
def preferences(draw: st.DrawFn) -> OwnerPreferences:
    quiet = None
    if draw(st.booleans()):
        start, end = draw(minutes), draw(minutes)
        assume(start != end)
        quiet = QuietHours(start=time(start // 60, start % 60), end=time(end // 60, end % 60))
    cap = FrequencyCap(
        per_day=draw(st.none() | st.integers(1, 3)), per_week=draw(st.none() | st.integers(1, 8))
    )
    try:
        return OwnerPreferences(
            email="owner@example.com",
            webhook_url=draw(st.none() | st.just("https://hooks.example.com/x")),
            time_zone=draw(st.sampled_from(ZONES)),
            windows=tuple(draw(st.lists(windows(), min_size=1, max_size=3))),
            quiet_hours=quiet,
            cap=cap,
            preferred_hour=draw(st.none() | st.integers(0, 23)),
        )
    except ValidationError:
        assume(False)
        raise


@st.composite
def near_transition(draw: st.DrawFn, zone: str) -> float:
    base = draw(st.sampled_from(TRANSITIONS[zone]))
    return base - draw(st.floats(min_value=0, max_value=3 * DAY_S, allow_nan=False))


urgencies = st.sampled_from(["low", "normal", "high", "critical"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), preferences(), st.lists(urgencies, min_size=1, max_size=7))
def test_non_critical_only_in_windows_and_within_the_caps(
    data: st.DataObject, prefs: OwnerPreferences, items: list[str]
) -> None:
    now = data.draw(near_transition(prefs.time_zone))
    hour = data.draw(st.none() | st.integers(0, 23))
    taken: list[float] = []
    for urgency in items:
        now += data.draw(st.floats(min_value=0, max_value=DAY_S / 2))
        plan = plan_delivery(urgency, prefs, now, taken, Advice(hour=hour))  # type: ignore[arg-type]
        if urgency == "critical":
            assert [d.channel for d in plan] == list(prefs.channels)
            assert all(d.due_at == now for d in plan), "critical goes at once"
            continue
        assert len(plan) == 1, "a non-critical item is planned within the horizon"
        (delivery,) = plan
        assert delivery.channel in prefs.channels
        assert delivery.due_at >= now
        zone = ZoneInfo(prefs.time_zone)
        assert welcome(prefs, delivery.due_at), (
            f"{datetime.fromtimestamp(delivery.due_at, zone)} is outside the owner's terms"
        )
        taken.append(delivery.due_at)
        assert within_cap(taken, prefs.cap)


@settings(max_examples=20, deadline=None)
@given(st.data(), preferences())
def test_the_first_welcome_minute_is_taken(data: st.DataObject, prefs: OwnerPreferences) -> None:
    """With nothing sent yet and no preferred hour, an item goes at the first welcome
    instant: found here by stepping minute by minute through local time."""
    prefs = prefs.model_copy(update={"preferred_hour": None})
    now = data.draw(near_transition(prefs.time_zone))
    (delivery,) = plan_delivery("normal", prefs, now, [])
    expected = now
    if not welcome(prefs, now):
        expected = math.ceil(now / 60) * 60
        while not welcome(prefs, expected):
            expected += 60
            assert expected < now + 8 * DAY_S
    # zones with whole-minute offsets change welcome-ness on whole UTC minutes
    assert delivery.due_at == pytest.approx(expected, abs=1e-6)


NEW_YORK = "America/New_York"
SPRING_2025 = datetime(2025, 3, 9, 7, 0, tzinfo=UTC).timestamp()  # 02:00 EST -> 03:00 EDT
FALL_2025 = datetime(2025, 11, 2, 6, 0, tzinfo=UTC).timestamp()  # 02:00 EDT -> 01:00 EST


def test_a_window_opening_at_a_time_that_does_not_exist_opens_at_the_transition() -> None:
    prefs = OwnerPreferences(
        time_zone=NEW_YORK,
        windows=(ContactWindow(start=time(2, 30), end=time(4, 0)),),
        quiet_hours=None,
    )
    (delivery,) = plan_delivery("normal", prefs, SPRING_2025 - 3 * 3600, [])
    assert delivery.due_at == SPRING_2025  # 03:00 EDT, the first wall time past 02:30
    assert delivery.channel == "in_app"


def test_an_hour_that_happens_twice_is_welcome_both_times_and_the_cap_counts_real_time() -> None:
    prefs = OwnerPreferences(
        email="o@example.com",
        time_zone=NEW_YORK,
        windows=(ContactWindow(start=time(1, 0), end=time(1, 59)),),
        quiet_hours=None,
        cap=FrequencyCap(per_day=2, per_week=None),
    )
    first_one_am = FALL_2025 - 3600  # 01:00 EDT
    (a,) = plan_delivery("normal", prefs, first_one_am - 600, [])
    assert a.due_at == first_one_am
    later = first_one_am + 4000  # 01:06:40 again, now EST: the repeated hour is welcome
    (b,) = plan_delivery("normal", prefs, later, [a.due_at])
    assert b.due_at == later
    assert datetime.fromtimestamp(b.due_at, ZoneInfo(NEW_YORK)).hour == 1
    (c,) = plan_delivery("normal", prefs, b.due_at, [a.due_at, b.due_at])
    assert c.due_at >= a.due_at + DAY_S, "two a day: the third waits a day after the first"


def test_critical_ignores_quiet_hours_and_the_cap() -> None:
    prefs = OwnerPreferences(
        email="o@example.com", webhook_url="https://hook.example.com/a", time_zone="Europe/Berlin"
    )
    three_am = datetime(2025, 6, 3, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    taken = [three_am - 3600 * k for k in range(1, 5)]
    plan = plan_delivery("critical", prefs, three_am, taken)
    assert {(d.channel, d.due_at) for d in plan} == {
        ("in_app", three_am),
        ("email", three_am),
        ("webhook", three_am),
    }
    (normal,) = plan_delivery("normal", prefs, three_am, taken)
    assert datetime.fromtimestamp(normal.due_at, ZoneInfo("Europe/Berlin")).hour == 9
    assert normal.channel == "email", "with nothing learned, a channel that reaches them"


def test_preferences_are_validated_with_reasons() -> None:
    for bad, reason in (
        ({"time_zone": "Mars/Olympus"}, "IANA"),
        ({"windows": [{"start": "18:00", "end": "09:00"}]}, "start before it ends"),
        ({"windows": [{"days": [7], "start": "09:00", "end": "10:00"}]}, "weekdays"),
        ({"quiet_hours": {"start": "00:00", "end": "23:59"}}, "quiet hours cover"),
        ({"webhook_url": "ftp://x.example.com"}, "http(s)"),
        ({"email": "not-an-address"}, "not an email"),
        ({"preferred_channel": "webhook"}, "no address"),
        ({"windows": [{"start": "09:00:30", "end": "10:00"}]}, "whole minute"),
        ({"cap": {"per_day": 0}}, "greater than or equal"),
    ):
        with pytest.raises(ValidationError, match=reason):
            OwnerPreferences.model_validate(bad)
    crossing = OwnerPreferences(quiet_hours=QuietHours(start=time(22), end=time(7)))
    assert crossing.quiet_hours is not None
    assert crossing.quiet_hours.covers(23 * 60)
    assert crossing.quiet_hours.covers(6 * 60)
    assert not crossing.quiet_hours.covers(12 * 60)
