"""What tests read straight from the database to check the system from outside: the
product has no use for these queries, so they live here rather than in a repository."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from cloud.db.records import DeadLetter
from cloud.db.schema import dead_letters, samples


def stored_seqs(engine: Engine, device_id: str) -> list[int]:
    """Every stored seq of a device, ascending."""
    query = select(samples.c.seq).where(samples.c.device_id == device_id).order_by(samples.c.seq)
    with engine.connect() as conn:
        return list(conn.scalars(query))


def all_stored_seqs(engine: Engine) -> dict[str, list[int]]:
    """Every stored seq of every device, ascending, read in one statement: one snapshot
    even while a fleet goes on reporting."""
    query = select(samples.c.device_id, samples.c.seq).order_by(samples.c.device_id, samples.c.seq)
    seqs: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for device_id, seq in conn.execute(query):
            seqs.setdefault(device_id, []).append(seq)
    return seqs


def sample_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(samples)) or 0)


def recent_dead_letters(engine: Engine, limit: int = 100) -> list[DeadLetter]:
    query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            DeadLetter(
                received_at=r.received_at,
                topic=r.topic,
                reason=r.reason,
                payload_size=r.payload_size,
                payload_excerpt=r.payload_excerpt,
            )
            for r in conn.execute(query)
        ]
