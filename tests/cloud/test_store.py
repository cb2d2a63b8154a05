"""The store on every supported dialect: idempotent on (device, seq), migrations match
the schema the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cloud.db.engine import migrate, open_engine
from cloud.db.schema import metadata
from cloud.db.store import Store
from cloud.ingest.triage import RawMessage, triage
from device_agent import contract
from device_agent.contract import Channel

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
    store = Store(engine)
    first = store.apply(triage([_batch("d1", range(0, 5)), _batch("d2", range(0, 2))], 60))
    assert [(s.device_id, s.seq) for s in first.new_samples] == [
        *[("d1", i) for i in range(5)],
        ("d2", 0),
        ("d2", 1),
    ]
    again = store.apply(triage([_batch("d1", range(3, 8))], 60))
    assert [s.seq for s in again.new_samples] == [5, 6, 7]
    assert again.stored_ranges == {"d1": [(3, 7)]}
    assert store.stored_seqs("d1") == list(range(8))
    assert store.sample_count() == 10
    rows = store.telemetry("d1", since=NOW + 2, until=NOW + 4)
    assert [(r.seq, r.metrics) for r in rows] == [(2, {"t": 2.0}), (3, {"t": 3.0}), (4, {"t": 4.0})]
    engine.dispose()


def test_migrations_produce_exactly_the_schema_the_code_uses(any_database_url: str) -> None:
    engine = open_engine(any_database_url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    engine.dispose()
