"""What an owner's answer does to an outreach item: pure, so the rules are one table.

An item is *open* until the owner declines it, rates it (a feedback question), the
service team records what happened, or it expires. Booking takes one of the item's
suggested slots; rescheduling asks for another (optionally naming a wish); snoozing asks
to be told again at ``until``; rating (1-5) answers a feedback question and only that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cloud.outreach.items import ItemKind, Response, ServiceSlot
from cloud.outreach.preferences import Channel

__all__ = [
    "CLOSED_STATUSES",
    "MAX_SNOOZE_S",
    "OPEN_STATUSES",
    "STATUSES",
    "Answer",
    "AnswerRejected",
    "ItemStatus",
    "answer_status",
]

ItemStatus = Literal[
    "new",
    "scheduled",
    "delivered",
    "booked",
    "rescheduled",
    "snoozed",
    "declined",
    "answered",
    "done",
    "expired",
]
OPEN_STATUSES: tuple[ItemStatus, ...] = (
    "new",
    "scheduled",
    "delivered",
    "booked",
    "rescheduled",
    "snoozed",
)
CLOSED_STATUSES: tuple[ItemStatus, ...] = ("declined", "answered", "done", "expired")
STATUSES: tuple[ItemStatus, ...] = OPEN_STATUSES + CLOSED_STATUSES
MAX_SNOOZE_S = 90 * 86_400.0


@dataclass(frozen=True)
class Answer:
    """An owner's answer as the API validated its shape (the fields its type needs)."""

    response: Response
    at: float
    slot: ServiceSlot | None = None
    until: float | None = None
    rating: int | None = None
    text: str | None = None
    channel: Channel | None = None


class AnswerRejected(ValueError):
    """The answer does not fit the item; ``conflict`` when the item is closed (409)
    rather than the answer wrong for it (422)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def answer_status(
    kind: ItemKind, status: str, slots: tuple[ServiceSlot, ...], answer: Answer
) -> ItemStatus:
    """The item's status after ``answer``; raises AnswerRejected when it does not apply."""
    if status in CLOSED_STATUSES:
        raise AnswerRejected(f"the item is closed ({status})", conflict=True)
    feedback = kind == "feedback_question"
    response = answer.response
    if response == "rate":
        if not feedback:
            raise AnswerRejected("only a feedback question can be rated")
        return "answered"
    if response == "decline":
        return "declined"
    if response == "snooze":
        if answer.until is None or not answer.at < answer.until <= answer.at + MAX_SNOOZE_S:
            raise AnswerRejected("'until' must be in the future, at most 90 days ahead")
        return "snoozed"
    if feedback:
        raise AnswerRejected(f"a feedback question cannot be answered with {response!r}")
    if response == "book":
        if answer.slot is None or answer.slot not in slots:
            offered = ", ".join(f"{s.start_s:.0f}" for s in slots) or "none"
            raise AnswerRejected(f"'slot_start' must be one of the suggested slots ({offered})")
        return "booked"
    if answer.slot is not None and answer.slot.start_s <= answer.at:
        raise AnswerRejected("a wished-for 'slot_start' must be in the future")
    return "rescheduled"
