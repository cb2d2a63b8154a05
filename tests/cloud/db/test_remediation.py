"""Self-healing's rows on every supported dialect: an attempt is written as it moves
along, learned counts are upserted, and the incident's status follows the loop."""

from __future__ import annotations

from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.remediation import AttemptRow, FixCounts, RemediationStore
from cloud.incidents.tracker import IncidentOpened

NOW = 1_780_000_000.0


def test_attempts_counts_and_statuses_round_trip(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    incidents = IncidentStore(engine)
    store = RemediationStore(engine)
    opened = IncidentOpened("hp-1", "overheat/compressor", NOW, NOW - 60, 0.9, {"value": 110.0})
    incidents.record([(opened, "heatpump-hp200")])
    (new,) = store.opened_after(0)
    assert (new.device_id, new.model, new.signature) == ("hp-1", "heatpump-hp200", opened.signature)
    sent = AttemptRow(
        "fix-1-1", new.id, 1, "hp-1", "reduce_load", {}, NOW + 1, None, None, "", None, None, None
    )
    store.save_attempt(sent)
    store.set_status(new.id, "mitigating", NOW + 1)
    judged = AttemptRow(
        "fix-1-1", new.id, 1, "hp-1", "reduce_load", {}, NOW + 1,
        "done", NOW + 20, "healthy for 300 s", True, NOW + 60, NOW + 360,
    )  # fmt: skip
    store.save_attempt(judged)
    store.set_status(new.id, "resolved", NOW + 360)
    assert store.attempts([new.id]) == {new.id: [judged]}
    (incident,) = incidents.find(IncidentFilter())
    assert (incident.status, incident.resolved_at) == ("resolved", NOW + 360)
    assert store.opened_after(0) == [], "only open incidents are the loop's work"

    store.save_counts([FixCounts("heatpump-hp200", opened.signature, "reduce_load", 1, 0)])
    store.save_counts([FixCounts("heatpump-hp200", opened.signature, "reduce_load", 1, 3)])
    assert store.counts() == [FixCounts("heatpump-hp200", opened.signature, "reduce_load", 1, 3)]

    incidents.record([(IncidentOpened("hp-2", "spike/x", NOW, NOW, 0.6, {}), None)])
    (other,) = store.opened_after(new.id)
    store.set_status(other.id, "escalated", NOW + 5, escalation="no playbook fix")
    escalated = incidents.get(other.id)
    assert escalated is not None
    assert (escalated.status, escalated.escalation) == ("escalated", "no playbook fix")

    disputed = store.dispute("heatpump-hp200", opened.signature, "reduce_load")
    assert disputed == FixCounts("heatpump-hp200", opened.signature, "reduce_load", 0, 4)
    fresh = store.dispute("heatpump-hp200", opened.signature, "clean_filter")
    assert (fresh.successes, fresh.failures) == (0, 1)
    assert store.dispute("heatpump-hp200", opened.signature, "clean_filter").failures == 2
    assert store.reopen(new.id, NOW + 900, "the owner rated the fix 1/5: still hot")
    reopened = incidents.get(new.id)
    assert reopened is not None
    assert (reopened.status, reopened.resolved_at) == ("open", None)
    assert reopened.escalation == "the owner rated the fix 1/5: still hot"
    assert not store.reopen(new.id, NOW + 901, "again"), "only a resolved incident reopens"
