"""What the owner app reads beyond the shared resources: a device's health in plain
words, and the owner's claimed devices (those still in their box too)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cloud.api.schemas.common import to_datetime
from cloud.db.records import DeviceRecord
from cloud.db.setup import SetupSubject
from cloud.plain import HealthStory, device_name


def _at(ts: float | None) -> datetime | None:
    return to_datetime(ts) if ts is not None else None


class HealthEventOut(BaseModel):
    at: datetime
    text: str


class HealthOut(BaseModel):
    """One device's health as its owner reads it. ``headline`` may hold ``{day}``: the
    page puts ``headline_at`` there in the reader's words ("on Tuesday")."""

    device_id: str
    model: str | None
    name: str
    state: Literal["ok", "fixing", "needs_you", "needs_service"]
    headline: str
    headline_at: datetime | None
    advice: str | None
    """What the owner can do about it, when there is something."""
    visit_at: datetime | None
    """A booked service visit's start."""
    events: list[HealthEventOut]
    """What happened lately, newest first."""

    @classmethod
    def of(cls, device_id: str, model: str | None, story: HealthStory) -> HealthOut:
        return cls(
            device_id=device_id,
            model=model,
            name=story.name,
            state=story.state,
            headline=story.headline,
            headline_at=_at(story.headline_at),
            advice=story.advice,
            visit_at=_at(story.visit_at),
            events=[HealthEventOut(at=to_datetime(e.at), text=e.text) for e in story.events],
        )


class MyDeviceOut(BaseModel):
    """A device the owner claimed; ``reported`` false while it has never been in touch
    (``online`` and ``last_seen`` are then null)."""

    id: str
    model: str | None
    name: str
    claimed_at: datetime | None
    reported: bool
    online: bool | None
    last_seen: datetime | None

    @classmethod
    def of(cls, subject: SetupSubject, device: DeviceRecord | None) -> MyDeviceOut:
        return cls(
            id=subject.device_id,
            model=subject.model,
            name=device_name(subject.model),
            claimed_at=_at(subject.claimed_at),
            reported=device is not None,
            online=device.online if device is not None else None,
            last_seen=_at(device.last_seen) if device is not None else None,
        )
