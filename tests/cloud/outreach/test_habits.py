"""Habits from answers: the channel an owner answers on and the hour they are there."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cloud.outreach.habits import Contact, learn_habits
from cloud.outreach.preferences import OwnerPreferences
from cloud.outreach.schedule import Advice

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400.0


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 6, day, hour, minute, tzinfo=BERLIN).timestamp()


def test_the_answered_channel_and_the_evening_hour_win() -> None:
    contacts = [Contact("webhook", at(d, 9), None) for d in (2, 3, 4)]
    contacts += [Contact("email", at(d, 9), at(d, 19, 30)) for d in (5, 6, 7)]
    habits = learn_habits(contacts, BERLIN, NOW)
    assert habits.channels == {"webhook": (0, 3), "email": (3, 0)}
    assert habits.hours[19] == (3, 0)
    assert habits.hours[9] == (0, 6)
    prefs = OwnerPreferences(email="o@example.com", webhook_url="https://h.example.com/x")
    assert habits.advice(prefs) == Advice("email", 19)
    rng = random.Random(7)
    draws = [habits.advice(prefs, rng).channel for _ in range(200)]
    assert draws.count("email") > 150, "Thompson draws explore, mostly exploit"


def test_preferences_set_by_the_owner_are_not_overridden_and_evidence_is_needed() -> None:
    contacts = [Contact("email", at(d, 9), at(d, 19, 30)) for d in (5, 6, 7)]
    habits = learn_habits(contacts, BERLIN, NOW)
    prefs = OwnerPreferences(email="o@example.com", preferred_channel="in_app", preferred_hour=10)
    assert habits.advice(prefs) == Advice(None, None)
    quiet_evenings = OwnerPreferences(
        email="o@example.com", quiet_hours={"start": "18:00", "end": "08:00"}
    )
    assert habits.advice(quiet_evenings).hour is None, "only hours the owner allows"
    one = learn_habits(contacts[:1], BERLIN, NOW)
    assert one.advice(OwnerPreferences(email="o@example.com")) == Advice(None, None)
    pending = learn_habits([Contact("email", NOW - 3600)], BERLIN, NOW)
    assert pending.channels == {"email": (0, 0)}, "not answered yet is not a failure yet"
