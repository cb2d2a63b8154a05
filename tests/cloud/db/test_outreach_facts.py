"""The planner's reads on every supported dialect: escalations with what was tried,
fixes the telemetry verified, stalled setup steps, each with the device's owner and
only what changed after the watermark."""

from __future__ import annotations

from sqlalchemy import insert

from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentStore
from cloud.db.outreach_facts import OutreachFacts
from cloud.db.remediation import AttemptRow, RemediationStore
from cloud.db.schema import device_owners, support_items
from cloud.incidents.tracker import IncidentOpened

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
