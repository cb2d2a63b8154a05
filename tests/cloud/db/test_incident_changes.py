"""Every committed incident status change is told to the stores' listeners (what the
time-series export mirrors), whichever path made it: detection, self-healing or people.
A decision that changes nothing is told to no one, and a failing listener is counted
without undoing the change or keeping the others from hearing of it."""

from __future__ import annotations

from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.records import IncidentChange
from cloud.db.remediation import RemediationStore
from cloud.incidents.tracker import IncidentOpened, IncidentResolved

NOW = 1_780_000_000.0
HOT = "overheat/compressor"
HP = "heatpump-hp200"
SPIKE = "spike/voltage_v"


def _stores(url: str) -> tuple[IncidentStore, RemediationStore]:
    engine = open_engine(url)
    migrate(engine)
    return IncidentStore(engine), RemediationStore(engine)


def _id_of(incidents: IncidentStore, device_id: str) -> int:
    (incident,) = incidents.find(IncidentFilter(device_id=device_id))
    return incident.id


def test_each_status_change_is_told_once_with_the_incident_it_moved(any_database_url: str) -> None:
    incidents, remediation = _stores(any_database_url)
    told: list[IncidentChange] = []
    incidents.change_listeners.append(told.append)
    remediation.change_listeners.append(told.append)

    opened = IncidentOpened("hp-1", HOT, NOW, NOW - 60, 0.9, {})
    incidents.record([(opened, HP)])
    incidents.record([(opened, HP)])  # already open: nothing changes
    hot = _id_of(incidents, "hp-1")
    remediation.set_status(hot, "mitigating", NOW + 10)
    remediation.set_status(hot, "mitigating", NOW + 200)  # the next fix: no change
    remediation.set_status(hot, "resolved", NOW + 400)
    assert remediation.reopen(hot, NOW + 900, "the owner says it is still hot")
    assert not remediation.reopen(hot, NOW + 901, "open already: not reopened")
    incidents.record([(IncidentResolved("hp-1", HOT, NOW + 1000, 0.95), HP)])
    incidents.record([(IncidentResolved("hp-1", HOT, NOW + 1001, 0.95), HP)])  # none open
    remediation.set_status(hot + 1000, "escalated", NOW)  # no such incident

    incidents.record([(IncidentOpened("ev-1", SPIKE, NOW, NOW, 0.7, {}), None)])
    spike = _id_of(incidents, "ev-1")
    incidents.set_verdict(spike, "false_positive", "a loose probe", NOW + 50)
    incidents.set_verdict(spike, "confirmed", "on second thoughts", NOW + 60)  # status kept

    assert told == [
        IncidentChange(hot, "hp-1", HP, HOT, "open", NOW, 0.9),
        IncidentChange(hot, "hp-1", HP, HOT, "mitigating", NOW + 10, 0.9),
        IncidentChange(hot, "hp-1", HP, HOT, "resolved", NOW + 400, 0.9),
        IncidentChange(hot, "hp-1", HP, HOT, "open", NOW + 900, 0.9),
        IncidentChange(hot, "hp-1", HP, HOT, "resolved", NOW + 1000, 0.95),
        IncidentChange(spike, "ev-1", None, SPIKE, "open", NOW, 0.7),
        IncidentChange(spike, "ev-1", None, SPIKE, "resolved", NOW + 50, 0.7),
    ]


def test_a_failing_listener_is_counted_and_the_change_stands(any_database_url: str) -> None:
    incidents, remediation = _stores(any_database_url)
    told: list[IncidentChange] = []

    def broken(change: IncidentChange) -> None:
        raise RuntimeError("listener bug")

    incidents.change_listeners.extend([broken, told.append])
    remediation.change_listeners.extend([broken, told.append])
    incidents.record([(IncidentOpened("hp-1", HOT, NOW, NOW, 0.9, {}), HP)])
    hot = _id_of(incidents, "hp-1")
    remediation.set_status(hot, "escalated", NOW + 5, "no playbook fix")

    assert [c.status for c in told] == ["open", "escalated"]
    assert (incidents.change_listeners.errors, remediation.change_listeners.errors) == (1, 1)
    escalated = incidents.get(hot)
    assert escalated is not None
    assert escalated.status == "escalated"
