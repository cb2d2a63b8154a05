"""How far the outreach planner has read each of its sources: one time per source, only
ever moved forward, so a restart resumes where the last round ended."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from cloud.db.schema import planner_marks


class PlannerMarks:
    """Thread-safe (one transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self) -> dict[str, float]:
        with self.engine.connect() as conn:
            return {name: float(at) for name, at in conn.execute(select(planner_marks))}

    def advance(self, marks: Mapping[str, float | None]) -> None:
        """Move each named mark to its new time, never back (None: leave it)."""
        for name, at in marks.items():
            if at is None:
                continue
            with self.engine.begin() as conn:
                moved = conn.execute(
                    update(planner_marks)
                    .where(planner_marks.c.source == name, planner_marks.c.at < at)
                    .values(at=at)
                ).rowcount
                if moved:
                    continue
                known = conn.execute(
                    select(planner_marks.c.at).where(planner_marks.c.source == name)
                ).first()
            if known is None:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(planner_marks.insert().values(source=name, at=at))
                except IntegrityError:  # another process made it meanwhile: move it then
                    self.advance({name: at})
