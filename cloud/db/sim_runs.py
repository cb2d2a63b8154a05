"""Simulation runs manufacturers recorded: a finished scenario's report, kept as sent.

A run is written once and never changed (a re-run is a new run), so there is nothing to
race: one insert per run. The expectations are stored as JSON in the order the harness
checked them, each with what held or failed in words, the devices involved and the
measured amount against its limit; new kinds of expectation need no schema change.
Thread-safe (one engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from cloud.db.schema import sim_runs
from device_agent.clock import Clock

__all__ = ["ExpectationOutcome", "SimRun", "SimRunReport", "SimRunStore"]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation of a scenario, checked: ``detail`` says in words what held or what
    failed and by how much; ``measured`` against ``limit`` when it is a number."""

    name: str
    passed: bool
    detail: str
    devices: tuple[str, ...] = ()
    measured: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class SimRunReport:
    """What a finished run reports. Times are epoch seconds of the reporter's clock;
    ``speed`` is device time per real second."""

    scenario: str
    scenario_file: str
    started_at: float
    finished_at: float
    speed: float
    seed: int
    devices: int
    models: tuple[str, ...]
    passed: bool
    expectations: tuple[ExpectationOutcome, ...] = ()
    summary: str = ""
    reported_by: str = ""


@dataclass(frozen=True)
class SimRun:
    """A recorded run: ``recorded_at`` is the cloud's clock when it was stored."""

    id: int
    recorded_at: float
    report: SimRunReport = field(repr=False)


class SimRunStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def record(self, report: SimRunReport) -> SimRun:
        now = self.clock.now()
        values = asdict(report)
        values["models"] = list(report.models)
        values["expectations"] = [_expectation_json(e) for e in report.expectations]
        with self.engine.begin() as conn:
            run_id = conn.execute(
                sim_runs.insert().values(recorded_at=now, **values).returning(sim_runs.c.id)
            ).scalar_one()
        return SimRun(id=int(run_id), recorded_at=now, report=report)

    def get(self, run_id: int) -> SimRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sim_runs).where(sim_runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def find(self, passed: bool | None = None, limit: int = 100) -> list[SimRun]:
        """Newest first (by when the run finished, then by when it was recorded)."""
        query = select(sim_runs).order_by(sim_runs.c.finished_at.desc(), sim_runs.c.id.desc())
        if passed is not None:
            query = query.where(sim_runs.c.passed.is_(passed))
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query.limit(limit))]


def _expectation_json(outcome: ExpectationOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["devices"] = list(outcome.devices)
    return data


def _expectation(data: dict[str, Any]) -> ExpectationOutcome:
    return ExpectationOutcome(
        name=str(data["name"]),
        passed=bool(data["passed"]),
        detail=str(data["detail"]),
        devices=tuple(str(d) for d in data.get("devices") or ()),
        measured=data.get("measured"),
        limit=data.get("limit"),
    )


def _run(row: Any) -> SimRun:
    expectations: Sequence[dict[str, Any]] = row.expectations or ()
    report = SimRunReport(
        scenario=row.scenario,
        scenario_file=row.scenario_file,
        started_at=float(row.started_at),
        finished_at=float(row.finished_at),
        speed=float(row.speed),
        seed=int(row.seed),
        devices=int(row.devices),
        models=tuple(row.models or ()),
        passed=bool(row.passed),
        expectations=tuple(_expectation(e) for e in expectations),
        summary=row.summary,
        reported_by=row.reported_by,
    )
    return SimRun(id=int(row.id), recorded_at=float(row.recorded_at), report=report)
