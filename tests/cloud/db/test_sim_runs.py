"""Simulation runs on every supported dialect: a report is kept as sent (expectations in
order, with their words, devices and amounts), read back newest first, and filtered by
whether it passed; the change feed sees a newly recorded run."""

from __future__ import annotations

from cloud.db.changes import ChangeReader
from cloud.db.engine import migrate, open_engine
from cloud.db.sim_runs import ExpectationOutcome, SimRunReport, SimRunStore
from device_agent.clock import ManualClock

T0 = 1_780_000_000.0


def report(name: str, finished_at: float, passed: bool = True) -> SimRunReport:
    held = ExpectationOutcome(
        "all_connected", True, "all 3 devices connected to the broker", (), 3, 3
    )
    lost = ExpectationOutcome(
        "max_unacknowledged_samples",
        passed,
        "every sample was acknowledged" if passed else "12 samples on 2 devices never acknowledged",
        () if passed else ("lab-heatpump-00001", "lab-evcharger-00002"),
        0 if passed else 12,
        0,
    )
    return SimRunReport(
        scenario=name,
        scenario_file=f"{name}.yaml",
        started_at=finished_at - 40.5,
        finished_at=finished_at,
        speed=100.0,
        seed=2**40,
        devices=3,
        models=("evcharger-ev7", "heatpump-hp200"),
        passed=passed,
        expectations=(held, lost),
        summary=f"scenario {name}: 3 devices, 90 samples",
        reported_by="ci runner 7",
    )


def test_runs_round_trip_newest_first_and_filter_by_outcome(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    clock = ManualClock(T0)
    store = SimRunStore(engine, clock)
    older = store.record(report("smoke", T0 - 3600))
    clock.advance(5)
    failed = store.record(report("soak", T0 - 60, passed=False))
    late = store.record(report("nightly", T0 - 7200))  # recorded last, but ran first

    assert failed.recorded_at == T0 + 5
    assert store.get(failed.id) == failed
    assert store.get(failed.id + 100) is None
    back = store.get(failed.id)
    assert back is not None
    assert back.report.expectations[1].devices == ("lab-heatpump-00001", "lab-evcharger-00002")
    assert back.report.expectations[1].measured == 12
    assert back.report.seed == 2**40
    assert [r.id for r in store.find()] == [failed.id, older.id, late.id]
    assert [r.id for r in store.find(passed=False)] == [failed.id]
    assert [r.id for r in store.find(passed=True)] == [older.id, late.id]
    assert [r.id for r in store.find(limit=1)] == [failed.id]
    engine.dispose()


def test_a_recorded_run_is_a_change_that_names_no_device_or_owner(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    clock = ManualClock(T0)
    store = SimRunStore(engine, clock)
    reader = ChangeReader(engine)
    assert reader.read() == []
    run = store.record(report("smoke", T0, passed=False))
    (change,) = [c for c in reader.read() if c.kind == "sim_run"]
    assert change.key == str(run.id)
    assert (change.device_id, change.owner_id) == (None, None)
    assert change.data["passed"] is False
    assert [c for c in reader.read() if c.kind == "sim_run"] == [], "reported once"
    engine.dispose()
