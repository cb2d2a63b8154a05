"""What an owner's answers teach: which channel they answer on, and at which local hour
they are responsive. Used only where the owner set no preference of their own.

Each channel is a Beta-Bernoulli arm: a contact on it that was answered is a success, one
left unanswered past ``patience_s`` a failure (contacts still within it teach nothing
yet). Each local hour of the day is an arm too: an answer given at that hour is a
success (the owner was there), a contact sent at that hour and not answered within
``prompt_s`` a failure. With the prior Beta(1, 1) the choice is the posterior mean, or a
Thompson draw when a random generator is passed (exploration, for a population). Pure:
the contacts, the zone and ``now`` come in, a choice goes out.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from cloud.outreach.preferences import CHANNELS, Channel, OwnerPreferences
from cloud.outreach.schedule import DAY_S, HOUR_S, Advice

__all__ = ["Contact", "Habits", "learn_habits"]

PRIOR = (1.0, 1.0)
MIN_EVIDENCE = 2
"""Resolved contacts (for the channel) or answers (for the hour) before habits count."""


@dataclass(frozen=True)
class Contact:
    """One contact: sent on ``channel`` at ``sent_at``, answered at ``answered_at``."""

    channel: Channel
    sent_at: float
    answered_at: float | None = None


@dataclass(frozen=True)
class Habits:
    """(successes, failures) per channel and per local hour of the day."""

    channels: Mapping[Channel, tuple[int, int]] = field(default_factory=dict)
    hours: Mapping[int, tuple[int, int]] = field(default_factory=dict)

    def channel(
        self, enabled: Iterable[Channel], rng: random.Random | None = None
    ) -> Channel | None:
        """The enabled channel the owner answers on most (None without evidence)."""
        on = set(enabled)
        enabled = [c for c in CHANNELS if c in on]
        resolved = sum(sum(self.channels.get(c, (0, 0))) for c in enabled)
        if resolved < MIN_EVIDENCE or not enabled:
            return None
        scores = {c: _score(self.channels.get(c, (0, 0)), rng) for c in enabled}
        return max(enabled, key=lambda c: scores[c])

    def hour(self, allowed: Iterable[int], rng: random.Random | None = None) -> int | None:
        """The allowed local hour the owner has answered at and is most responsive in
        (None before ``MIN_EVIDENCE`` answers)."""
        answered = [h for h in sorted(set(allowed)) if self.hours.get(h, (0, 0))[0] > 0]
        if sum(self.hours[h][0] for h in answered) < MIN_EVIDENCE:
            return None
        scores = {h: _score(self.hours[h], rng) for h in answered}
        return max(answered, key=lambda h: scores[h])

    def advice(self, prefs: OwnerPreferences, rng: random.Random | None = None) -> Advice:
        """What to use where ``prefs`` leave the choice open; None where they do not."""
        channel = None if prefs.preferred_channel else self.channel(prefs.channels, rng)
        hour = None
        if prefs.preferred_hour is None:
            hour = self.hour(welcome_hours(prefs), rng)
        return Advice(channel, hour)


def _score(counts: tuple[int, int], rng: random.Random | None) -> float:
    alpha, beta = PRIOR[0] + counts[0], PRIOR[1] + counts[1]
    return rng.betavariate(alpha, beta) if rng is not None else alpha / (alpha + beta)


def welcome_hours(prefs: OwnerPreferences) -> set[int]:
    """Local hours with at least one welcome minute on some weekday."""
    hours = set()
    for window in prefs.windows:
        start = window.start.hour * 60 + window.start.minute
        end = window.end.hour * 60 + window.end.minute
        for minute in range(start, end):
            if minute // 60 not in hours and any(prefs.welcome(d, minute) for d in window.days):
                hours.add(minute // 60)
    return hours


def learn_habits(
    contacts: Iterable[Contact],
    zone: ZoneInfo,
    now: float,
    *,
    patience_s: float = 3 * DAY_S,
    prompt_s: float = 2 * HOUR_S,
) -> Habits:
    """Count ``contacts`` into channel and hour arms (local hours in ``zone``)."""
    channels: dict[Channel, list[int]] = {}
    hours: dict[int, list[int]] = {}
    for contact in contacts:
        arm = channels.setdefault(contact.channel, [0, 0])
        answered = contact.answered_at
        if answered is not None:
            arm[0] += 1
            hours.setdefault(_hour(answered, zone), [0, 0])[0] += 1
        elif now - contact.sent_at > patience_s:
            arm[1] += 1
        if (answered is None and now - contact.sent_at > prompt_s) or (
            answered is not None and answered - contact.sent_at > prompt_s
        ):
            hours.setdefault(_hour(contact.sent_at, zone), [0, 0])[1] += 1
    return Habits(
        {c: (s, f) for c, (s, f) in channels.items()},
        {h: (s, f) for h, (s, f) in hours.items()},
    )


def _hour(ts: float, zone: ZoneInfo) -> int:
    return datetime.fromtimestamp(ts, zone).hour
