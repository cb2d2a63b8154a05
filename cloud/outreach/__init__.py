"""Proactive outreach, pure: items made from predictions, escalations, stuck setups and
support news, and when and on which channel each owner hears of them."""

from cloud.outreach.habits import Contact, Habits, learn_habits
from cloud.outreach.items import (
    RESPONSES,
    ItemKind,
    OutreachDraft,
    Response,
    ServiceSlot,
    Urgency,
)
from cloud.outreach.preferences import (
    CHANNELS,
    Channel,
    ContactWindow,
    FrequencyCap,
    OwnerPreferences,
    QuietHours,
    default_preferences,
)
from cloud.outreach.schedule import Advice, Delivery, next_welcome, plan_delivery, welcome_at

__all__ = [
    "CHANNELS",
    "RESPONSES",
    "Advice",
    "Channel",
    "Contact",
    "ContactWindow",
    "Delivery",
    "FrequencyCap",
    "Habits",
    "ItemKind",
    "OutreachDraft",
    "OwnerPreferences",
    "QuietHours",
    "Response",
    "ServiceSlot",
    "Urgency",
    "default_preferences",
    "learn_habits",
    "next_welcome",
    "plan_delivery",
    "welcome_at",
]
