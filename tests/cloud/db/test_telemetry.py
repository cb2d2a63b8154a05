"""The telemetry store on every supported dialect: idempotent on (device, seq), migrations
match the schema the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from cloud.db.engine import migrate, open_engine
from cloud.db.schema import diagnostic_bundles, metadata
from cloud.db.telemetry import TelemetryStore
from cloud.ingest.triage import RawMessage, stored_ranges, triage
from device_agent import contract
from device_agent.contract import Channel
from tests.audit import sample_count, stored_seqs

NOW = 1_750_000_000.0


def _batch(device_id: str, seqs: range) -> RawMessage:
    message = contract.TelemetryBatch(
        device_id=device_id,
        samples=[contract.Sample(seq=s, ts=NOW + s, metrics={"t": float(s)}) for s in seqs],
    )
    return RawMessage(contract.topic(device_id, Channel.TELEMETRY), contract.encode(message), NOW)


def test_redelivered_samples_are_stored_once_and_acknowledged_again(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    store = TelemetryStore(engine)
    first = store.apply(triage([_batch("d1", range(0, 5)), _batch("d2", range(0, 2))], 60))
    assert [(s.device_id, s.seq) for s in first] == [
        *[("d1", i) for i in range(5)],
        ("d2", 0),
        ("d2", 1),
    ]
    redelivered = triage([_batch("d1", range(3, 8))], 60)
    again = store.apply(redelivered)
    assert [s.seq for s in again] == [5, 6, 7]
    assert stored_ranges(redelivered) == {"d1": [(3, 7)]}, "redeliveries are acknowledged too"
    assert stored_seqs(engine, "d1") == list(range(8))
    assert sample_count(engine) == 10
    rows = store.telemetry("d1", since=NOW + 2, until=NOW + 4)
    assert [(r.seq, r.metrics) for r in rows] == [(2, {"t": 2.0}), (3, {"t": 3.0}), (4, {"t": 4.0})]
    assert [r.seq for r in store.recent("d1", since=NOW + 2, limit=3)] == [5, 6, 7]
    engine.dispose()


def test_migrations_produce_exactly_the_schema_the_code_uses(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    engine.dispose()


def test_a_redelivered_bundle_is_stored_once_and_touches_the_device(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    store = TelemetryStore(engine)
    bundle = contract.DiagnosticBundle(
        device_id="d1",
        bundle_id="b1",
        request_id="3",
        ts=NOW,
        model="m",
        firmware="1",
        window_s=60.0,
        telemetry={"t": contract.MetricSummary(count=1, min=1.0, max=1.0, mean=1.0, last=1.0)},
        self_heal=[],
        config={},
        errors=[],
    )
    raw = RawMessage(contract.topic("d1", Channel.DIAGNOSTICS), contract.encode(bundle), NOW + 5)
    for _ in range(2):
        store.apply(triage([raw], 60))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(diagnostic_bundles)).scalar() == 1
        stored = conn.execute(select(diagnostic_bundles.c.bundle)).scalar_one()
    assert contract.DiagnosticBundle.model_validate(stored) == bundle
    device = store.get_device("d1")
    assert device is not None
    assert device.last_seen == NOW + 5
    engine.dispose()
