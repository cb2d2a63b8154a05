"""How an owner wants to be reached: channels and their addresses, the owner's time zone,
when contact is welcome (windows) and when it never is (quiet hours), and how often.

Validated once, at the edge (the API's ``PUT /owners/me/preferences``), so delivery can
trust it: the time zone exists, every window has a start before its end, quiet hours do
not swallow every window, a webhook URL is http(s). An owner who set nothing gets
:func:`default_preferences`: in-app and email to the account's address, every day 09:00
to 20:00, quiet 21:00 to 08:00, at most one non-critical contact a day and three a week.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "CHANNELS",
    "Channel",
    "ContactWindow",
    "FrequencyCap",
    "OwnerPreferences",
    "QuietHours",
    "default_preferences",
]

Channel = Literal["in_app", "email", "webhook"]
CHANNELS: tuple[Channel, ...] = ("in_app", "email", "webhook")
"""In the order an owner without a preference or a learned habit is tried on:
email and webhook reach them, the in-app inbox waits until they look."""

EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _whole_minute(t: time) -> time:
    if t.second or t.microsecond or t.tzinfo is not None:
        raise ValueError(f"{t} must be a local time on a whole minute, like 08:30")
    return t


LocalTime = Annotated[time, AfterValidator(_whole_minute)]
"""A local wall-clock time on a whole minute (``"08:30"``), without an offset."""


class ContactWindow(_Frozen):
    """Local wall-clock ``start`` to ``end`` (end excluded) on ``days`` (0 Monday to
    6 Sunday). A window does not cross midnight: split it in two instead."""

    days: tuple[int, ...] = EVERY_DAY
    start: LocalTime = time(9, 0)
    end: LocalTime = time(20, 0)

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if not days:
            raise ValueError("a contact window needs at least one weekday")
        if any(d < 0 or d > 6 for d in days):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(days)))

    @model_validator(mode="after")
    def _ordered(self) -> ContactWindow:
        if _minutes(self.start) >= _minutes(self.end):
            raise ValueError(
                f"a contact window must start before it ends ({self.start} >= {self.end}); "
                "split one that crosses midnight in two"
            )
        return self

    def covers(self, weekday: int, minute_of_day: int) -> bool:
        return weekday in self.days and _minutes(self.start) <= minute_of_day < _minutes(self.end)


class QuietHours(_Frozen):
    """Local ``start`` to ``end`` (end excluded) every day; crosses midnight when
    ``start`` is later than ``end`` (22:00 to 07:00)."""

    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if _minutes(self.start) == _minutes(self.end):
            raise ValueError("quiet hours must not start and end at the same minute")
        return self

    def covers(self, minute_of_day: int) -> bool:
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


class FrequencyCap(_Frozen):
    """Non-critical contacts in any rolling 24 hours and any rolling 7 days, at most
    (None: no limit on that span). Safety-critical items are never held back by it."""

    per_day: int | None = Field(default=1, ge=1, le=100)
    per_week: int | None = Field(default=3, ge=1, le=700)


class OwnerPreferences(_Frozen):
    """One owner's terms. In-app is always on; email and webhook are on when their
    address is set. ``preferred_channel`` and ``preferred_hour`` (local, 0-23) left unset
    let delivery use what the owner's answers taught it (:mod:`cloud.outreach.habits`)."""

    email: str | None = Field(default=None, max_length=320)
    webhook_url: str | None = Field(default=None, max_length=2000)
    time_zone: str = "UTC"
    windows: tuple[ContactWindow, ...] = (ContactWindow(),)
    quiet_hours: QuietHours | None = QuietHours()
    cap: FrequencyCap = FrequencyCap()
    preferred_channel: Channel | None = None
    preferred_hour: int | None = Field(default=None, ge=0, le=23)

    @field_validator("email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is None:
            return None
        email = email.strip()
        local, at, domain = email.rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in email):
            raise ValueError(f"{email!r} is not an email address")
        return email

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return url

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (like Europe/Berlin)") from None
        return name

    @model_validator(mode="after")
    def _reachable(self) -> OwnerPreferences:
        if not self.windows:
            raise ValueError("at least one contact window is needed")
        quiet = self.quiet_hours
        if quiet is not None and all(
            quiet.covers(m) for w in self.windows for m in range(_minutes(w.start), _minutes(w.end))
        ):
            raise ValueError("quiet hours cover every contact window: no time is left to reach you")
        if self.preferred_channel is not None and self.preferred_channel not in self.channels:
            raise ValueError(f"preferred channel {self.preferred_channel!r} has no address set")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The enabled channels, in :data:`CHANNELS` order."""
        enabled = {"in_app", *(["email"] if self.email else [])}
        if self.webhook_url:
            enabled.add("webhook")
        return tuple(c for c in CHANNELS if c in enabled)

    def welcome(self, weekday: int, minute_of_day: int) -> bool:
        """Whether a non-critical contact is welcome at this local weekday and minute."""
        if self.quiet_hours is not None and self.quiet_hours.covers(minute_of_day):
            return False
        return any(w.covers(weekday, minute_of_day) for w in self.windows)


def default_preferences(email: str | None = None) -> OwnerPreferences:
    """What an owner who set nothing gets: their account's email (if known) beside the
    in-app inbox, and the default windows, quiet hours and cap."""
    return OwnerPreferences(email=email)
