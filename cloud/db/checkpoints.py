"""Where each device's scoring state is kept between restarts: one row per device,
overwritten in place (the latest state is all a scorer needs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from cloud.db.schema import device_checkpoints


@dataclass(frozen=True)
class Checkpoint:
    device_id: str
    version: int
    saved_at: float
    state: bytes


class CheckpointStore:
    """Thread-safe (one transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_many(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Write (or overwrite) each device's checkpoint, all in one transaction."""
        if not checkpoints:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(device_checkpoints)
        statement = statement.on_conflict_do_update(
            index_elements=[device_checkpoints.c.device_id],
            set_={
                "version": statement.excluded.version,
                "saved_at": statement.excluded.saved_at,
                "state": statement.excluded.state,
            },
        )
        rows = [
            {
                "device_id": c.device_id,
                "version": c.version,
                "saved_at": c.saved_at,
                "state": c.state,
            }
            for c in checkpoints
        ]
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    def load(self, device_id: str) -> Checkpoint | None:
        query = select(device_checkpoints).where(device_checkpoints.c.device_id == device_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Checkpoint(row.device_id, row.version, row.saved_at, bytes(row.state))
