"""When, and on which channel, an owner hears of an outreach item: pure, the clock
passed in as ``now``.

A non-critical item goes at the earliest instant that is inside one of the owner's
contact windows, outside their quiet hours, and keeps the frequency cap (at most N
non-critical contacts in *any* rolling day or week, counting the ones already sent and
the ones already planned). A safety-critical item goes at once on every enabled channel,
whatever the windows and the cap say, and is not counted against the cap.

Windows and quiet hours are local wall-clock times, so they are evaluated in local wall
time: an instant is welcome when its local weekday and minute are. Across a daylight
saving change this is exact, because the search only looks at instants where the answer
can change (each boundary wall time converted with both folds, every offset change, the
moments a past contact leaves the rolling span) and checks each one directly. A window
starting at a local time that does not exist that day (02:30 on a spring-forward night)
opens at the transition; a local time that happens twice (fall-back) is welcome both
times, but the cap still counts real time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.outreach.items import Urgency
from cloud.outreach.preferences import Channel, FrequencyCap, OwnerPreferences

__all__ = [
    "DAY_S",
    "WEEK_S",
    "Advice",
    "Delivery",
    "cap_allows",
    "next_welcome",
    "plan_delivery",
    "welcome_at",
]

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
HOUR_S = 3_600.0
MAX_HORIZON_S = 120 * DAY_S
"""Beyond this nothing is planned (the caller keeps the item and says why)."""


@dataclass(frozen=True)
class Delivery:
    """Send the item on ``channel`` at ``due_at`` (epoch seconds)."""

    channel: Channel
    due_at: float


@dataclass(frozen=True)
class Advice:
    """What the owner's habits suggest when they set no preference (None: no evidence)."""

    channel: Channel | None = None
    hour: int | None = None


def welcome_at(prefs: OwnerPreferences, ts: float, zone: ZoneInfo | None = None) -> bool:
    """Whether a non-critical contact at ``ts`` falls in a window and outside quiet hours,
    judged in the owner's local wall time."""
    local = datetime.fromtimestamp(ts, zone or prefs.zone)
    return prefs.welcome(local.weekday(), local.hour * 60 + local.minute)


def cap_allows(ts: float, taken: Iterable[float], cap: FrequencyCap) -> bool:
    """Whether one more non-critical contact at ``ts`` keeps every rolling span within
    the cap, given the contacts ``taken`` (sent or planned, past or future).

    N contacts per span D hold iff no N+1 of them fit in a half-open span of length D,
    i.e. in time order every contact is at least D after the one N places before it."""
    points = sorted([*taken, ts])
    index = points.index(ts)
    for limit, span in ((cap.per_day, DAY_S), (cap.per_week, WEEK_S)):
        if limit is None:
            continue
        for first in range(max(0, index - limit), index + 1):
            last = first + limit
            if last < len(points) and points[last] - points[first] < span:
                return False
    return True


def next_welcome(prefs: OwnerPreferences, ts: float, horizon_s: float = 8 * DAY_S) -> float | None:
    """The first instant at or after ``ts`` when a non-critical contact is welcome (None
    within ``horizon_s``): where a retry or a late claim waits until."""
    zone = prefs.zone
    for candidate in _boundaries(prefs, zone, ts, ts + horizon_s):
        if welcome_at(prefs, candidate, zone):
            return candidate
    return None


def plan_delivery(
    urgency: Urgency,
    prefs: OwnerPreferences,
    now: float,
    taken: Sequence[float],
    advice: Advice | None = None,
) -> list[Delivery]:
    """The deliveries of one item: every enabled channel at once for ``critical``;
    otherwise one channel at the earliest welcome instant the cap allows, at the owner's
    (or, failing that, their habits') preferred local hour when that comes within a day
    of it and the item is not ``high``. Empty when no instant within the horizon fits
    (the caller keeps the item). ``taken``: this owner's non-critical contacts, sent or
    planned."""
    if urgency == "critical":
        return [Delivery(channel, now) for channel in prefs.channels]
    advice = advice or Advice()
    channel = prefs.preferred_channel or _enabled(advice.channel, prefs) or _reaching(prefs)
    hour = prefs.preferred_hour if prefs.preferred_hour is not None else advice.hour
    due = _earliest(prefs, now, taken, hour if urgency != "high" else None)
    return [] if due is None else [Delivery(channel, due)]


def _enabled(channel: Channel | None, prefs: OwnerPreferences) -> Channel | None:
    return channel if channel in prefs.channels else None


def _reaching(prefs: OwnerPreferences) -> Channel:
    """With nothing to go on: a channel that reaches the owner (email, then webhook)
    before the inbox that waits for them."""
    for channel in ("email", "webhook"):
        if channel in prefs.channels:
            return channel
    return "in_app"


def _earliest(
    prefs: OwnerPreferences, now: float, taken: Sequence[float], hour: int | None
) -> float | None:
    zone = prefs.zone
    horizon = min(MAX_HORIZON_S, 8 * DAY_S + WEEK_S * (len(taken) + 1))
    candidates = set(_boundaries(prefs, zone, now, now + horizon))
    candidates.update(t + span for t in taken for span in (DAY_S, WEEK_S) if t + span > now)
    if hour is not None:
        candidates.update(_hour_marks(zone, hour, now, now + horizon))
    first: float | None = None
    for ts in sorted(c for c in candidates if now <= c <= now + horizon):
        if first is not None and ts >= first + DAY_S:
            break
        if not (welcome_at(prefs, ts, zone) and cap_allows(ts, taken, prefs.cap)):
            continue
        if first is None:
            first = ts
            if hour is None:
                break
        if hour is not None and datetime.fromtimestamp(ts, zone).hour == hour:
            return ts
    return first


def _boundaries(prefs: OwnerPreferences, zone: ZoneInfo, start: float, end: float) -> list[float]:
    """Every instant in [start, end] at which welcome-ness may change, and ``start``:
    each window and quiet-hour edge and midnight on each local date (both folds), and
    each change of the zone's UTC offset."""
    edges = {time(0, 0)}
    for window in prefs.windows:
        edges |= {window.start, window.end}
    if prefs.quiet_hours is not None:
        edges |= {prefs.quiet_hours.start, prefs.quiet_hours.end}
    found = {start, *_offset_changes(zone, start, end)}
    for day in _local_dates(zone, start, end):
        for edge in edges:
            found.update(_instants(zone, day, edge))
    return sorted(t for t in found if start <= t <= end)


def _hour_marks(zone: ZoneInfo, hour: int, start: float, end: float) -> list[float]:
    return [t for day in _local_dates(zone, start, end) for t in _instants(zone, day, time(hour))]


def _local_dates(zone: ZoneInfo, start: float, end: float) -> list[date]:
    first = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    days = int((end - start) // DAY_S) + 3
    return [first + timedelta(days=n) for n in range(days)]


def _instants(zone: ZoneInfo, day: date, wall: time) -> set[float]:
    """The instants whose local wall time is ``wall`` on ``day``: one normally, two in
    a fall-back hour; for a wall time that does not exist, zoneinfo's two readings (the
    offset change itself is among the boundaries)."""
    naive = datetime.combine(day, wall, tzinfo=zone)
    return {naive.replace(fold=0).timestamp(), naive.replace(fold=1).timestamp()}


def _offset_changes(zone: ZoneInfo, start: float, end: float) -> list[float]:
    """The instants in [start, end] where the zone's UTC offset changes, to the second
    (found hourly, then by bisection)."""

    def offset(ts: float) -> timedelta | None:
        return datetime.fromtimestamp(ts, zone).utcoffset()

    changes = []
    ts, before = start, offset(start)
    while ts < end:
        step = min(HOUR_S, end - ts)
        after = offset(ts + step)
        if after != before:
            low, high = ts, ts + step
            while high - low > 1.0:
                middle = (low + high) / 2
                low, high = (middle, high) if offset(middle) == before else (low, middle)
            changes.append(float(int(high)) if offset(float(int(high))) == after else high)
        ts, before = ts + step, after
    return changes
