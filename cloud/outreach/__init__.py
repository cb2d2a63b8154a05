"""Proactive outreach, pure: items made from predictions, escalations, stuck setups and
support news, and when and on which channel each owner hears of them."""

from cloud.outreach.items import (
    RESPONSES,
    ItemKind,
    OutreachDraft,
    Response,
    ServiceSlot,
    Urgency,
)

__all__ = ["RESPONSES", "ItemKind", "OutreachDraft", "Response", "ServiceSlot", "Urgency"]
