"""The change reader behind the live updates, on each SQL dialect: only what changed
after the first look, each change once, late commits within the overlap included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert, update

from cloud.db.changes import ChangeReader
from cloud.db.repositories import open_database
from cloud.db.schema import device_owners, devices, incidents


@pytest.fixture
def engine(any_database_url: str) -> Iterator[Engine]:
    with open_database(any_database_url) as opened:
        yield opened


def _device(engine: Engine, device_id: str, online: bool = True) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(devices).values(
                id=device_id, model="heatpump-hp200", online=online, first_seen=0.0, last_seen=0.0
            )
        )


def _incident(engine: Engine, device_id: str, updated_at: float) -> int:
    with engine.begin() as conn:
        row = conn.execute(
            insert(incidents)
            .values(
                device_id=device_id,
                model="heatpump-hp200",
                signature="overheat/temp_c",
                status="open",
                opened_at=updated_at,
                evidence_since=updated_at,
                updated_at=updated_at,
                peak_score=0.9,
                explanation={},
            )
            .returning(incidents.c.id)
        )
        return int(row.scalar_one())


def test_what_existed_before_the_first_look_is_not_news(engine: Engine) -> None:
    _device(engine, "hp-1")
    _incident(engine, "hp-1", 100.0)
    reader = ChangeReader(engine)
    assert reader.read() == []
    assert reader.read() == []


def test_each_change_is_reported_once_with_who_may_see_it(engine: Engine) -> None:
    _device(engine, "hp-1")
    with engine.begin() as conn:
        conn.execute(insert(device_owners).values(device_id="hp-1", owner_id="alice"))
    _incident(engine, "hp-1", 100.0)
    reader = ChangeReader(engine, overlap_s=5.0)
    reader.read()
    opened = _incident(engine, "hp-1", 101.0)
    late = _incident(engine, "hp-1", 98.0)  # committed late, within the overlap
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == "hp-1").values(online=False))
    changes = reader.read()
    by_kind = {(c.kind, c.key): c for c in changes}
    assert set(by_kind) == {("incident", str(opened)), ("incident", str(late)), ("device", "hp-1")}
    assert by_kind[("device", "hp-1")].data == {
        "id": "hp-1",
        "model": "heatpump-hp200",
        "online": False,
    }
    assert all(c.owner_id == "alice" for c in changes)
    assert reader.read() == []


def test_a_new_device_and_a_claim_are_changes(engine: Engine) -> None:
    reader = ChangeReader(engine)
    reader.read()
    _device(engine, "ev-1")
    with engine.begin() as conn:
        conn.execute(
            insert(device_owners).values(device_id="ev-1", owner_id="bob", claimed_at=500.0)
        )
    kinds = sorted((c.kind, c.key, c.owner_id) for c in reader.read())
    assert kinds == [("device", "ev-1", "bob"), ("device", "ev-1", "bob")]


def test_a_verdict_is_a_change_of_its_incident(engine: Engine) -> None:
    _device(engine, "hp-1")
    judged = _incident(engine, "hp-1", 100.0)
    reader = ChangeReader(engine)
    reader.read()
    with engine.begin() as conn:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == judged)
            .values(verdict="confirmed", verdict_at=200.0)
        )
    assert [(c.kind, c.key) for c in reader.read()] == [("incident", str(judged))]
