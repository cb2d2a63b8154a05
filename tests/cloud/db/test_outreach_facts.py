"""The planner's reads on every supported dialect: escalations with what was tried,
fixes the telemetry verified, stalled setup steps, each with the device's owner and
only what changed after the watermark."""

from __future__ import annotations

from sqlalchemy import insert, update

from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentStore
from cloud.db.outreach import OutreachStore
from cloud.db.outreach_facts import OutreachFacts
from cloud.db.remediation import AttemptRow, RemediationStore
from cloud.db.schema import device_owners, support_items, support_requests
from cloud.db.support import SupportStore
from cloud.incidents.tracker import IncidentOpened
from cloud.outreach.items import OutreachDraft
from device_agent.clock import ManualClock

NOW = 1_780_000_000.0
EXPLANATION = {"summary": "Compressor temperature rose to 104 °C."}


def _attempt(incident_id: int, number: int, action: str, verified: bool | None) -> AttemptRow:
    return AttemptRow(
        f"fix-{incident_id}-{number}", incident_id, number, "hp-1", action, {},
        NOW + number, "done", NOW + number, "", verified, None, None,
    )  # fmt: skip


def test_facts_carry_owners_attempts_and_respect_the_watermark(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    incidents, store, facts = IncidentStore(engine), RemediationStore(engine), OutreachFacts(engine)
    with engine.begin() as conn:
        conn.execute(insert(device_owners), [{"device_id": "hp-1", "owner_id": "ann"}])
        conn.execute(
            insert(support_items),
            [{"device_id": "hp-2", "step": "wifi", "reason": "no link", "opened_at": NOW}],
        )
    incidents.record(
        [
            (IncidentOpened("hp-1", "overheat/compressor", NOW, NOW, 0.9, EXPLANATION), "hp"),
            (IncidentOpened("hp-1", "memory-leak/firmware", NOW, NOW, 0.9, {}), "hp"),
        ]
    )
    hot, leak = (i.id for i in store.opened_after(0))
    for number, action in enumerate(["reduce_load", "clean_filter", "reduce_load"], 1):
        store.save_attempt(_attempt(hot, number, action, False))
    store.set_status(hot, "escalated", NOW + 100, "every fix tried, none verified")
    store.save_attempt(_attempt(leak, 1, "restart_firmware", True))
    store.set_status(leak, "resolved", NOW + 200)

    (escalated,) = facts.escalations(NOW)
    assert (escalated.incident_id, escalated.owner_id) == (hot, "ann")
    assert escalated.attempts == ("reduce_load", "clean_filter")
    assert escalated.summary == EXPLANATION["summary"]
    assert escalated.reason == "every fix tried, none verified"
    assert facts.escalations(NOW + 100) == []

    (fixed,) = facts.verified_fixes(NOW)
    assert (fixed.subject_id, fixed.kind, fixed.owner_id) == (leak, "verified_fix", "ann")
    assert fixed.detail == "restart firmware"
    assert facts.verified_fixes(NOW + 200) == []

    (stuck,) = facts.stuck_setups(NOW - 1)
    assert (stuck.device_id, stuck.owner_id, stuck.step) == ("hp-2", None, "wifi")
    assert facts.stuck_setups(NOW) == []


def test_support_news_and_service_visits_are_read_once(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    facts, support = OutreachFacts(engine), SupportStore(engine)
    outreach = OutreachStore(engine, ManualClock(NOW + 50))
    request = support.file(
        device_id="hp-1", owner_id="ann", filed_by="owner", category="noise",
        description="it hums at night", now=NOW, due=(NOW + 3600, NOW + 86_400),
    )  # fmt: skip
    with engine.begin() as conn:  # diagnostics attached: the request is workable
        conn.execute(
            update(support_requests)
            .where(support_requests.c.id == request.id)
            .values(status="open")
        )
    support.reply(request.id, "Please check the fan guard.", NOW + 10)
    support.resolve(request.id, "Fan guard refitted.", NOW + 20)
    updates = facts.support_updates(NOW)
    assert [(u.kind, u.text, u.owner_id) for u in updates] == [
        ("reply", "Please check the fan guard.", "ann"),
        ("resolved", "Fan guard refitted.", "ann"),
    ]
    assert facts.support_updates(NOW + 20) == []
    (resolved,) = facts.resolved_support(NOW)
    assert (resolved.kind, resolved.support_request_id) == ("support_resolved", request.id)

    draft = OutreachDraft(
        device_id="hp-1", owner_id="ann", kind="wear_out", dedupe_key="hp-1:wear_out:c",
        reason="worn", action="book", urgency="normal", created_at=NOW + 50,
    )  # fmt: skip
    item_id = outreach.add(draft)
    assert item_id is not None
    outreach.record_outcome(item_id, "part_replaced", "new compressor")
    (visit,) = facts.service_visits(NOW)
    assert (visit.kind, visit.subject_id, visit.detail) == (
        "service_visit",
        item_id,
        "part replaced",
    )
    assert facts.service_visits(NOW + 50) == []
