"""Device tags, as the service team sets them and campaigns select by them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select

from cloud.db.schema import device_tags


class TagStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_tags(self, device_id: str, tags: Iterable[str]) -> list[str]:
        """Replace the device's tags (in one transaction); returns them sorted."""
        wanted = sorted(set(tags))
        with self.engine.begin() as conn:
            conn.execute(delete(device_tags).where(device_tags.c.device_id == device_id))
            if wanted:
                conn.execute(
                    insert(device_tags), [{"device_id": device_id, "tag": t} for t in wanted]
                )
        return wanted

    def tags_of(self, device_id: str) -> list[str]:
        query = (
            select(device_tags.c.tag)
            .where(device_tags.c.device_id == device_id)
            .order_by(device_tags.c.tag)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def tagged(self, tag: str) -> set[str]:
        """The devices that carry ``tag``."""
        query = select(device_tags.c.device_id).where(device_tags.c.tag == tag)
        with self.engine.connect() as conn:
            return set(conn.scalars(query))
