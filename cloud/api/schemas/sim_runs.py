"""Simulation runs as the API takes and returns them.

A run's report is what ``aftercare sim run --api`` posts after a scenario (and what a
richer harness posts later, with more kinds of expectation): the scenario, its fleet,
when it ran and, per expectation, whether it held, in words, with the devices involved
and the measured amount against its limit.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.api.schemas.common import to_datetime
from cloud.db.sim_runs import ExpectationOutcome, SimRun, SimRunReport

MAX_EXPECTATIONS = 500
MAX_DEVICES_NAMED = 1000
"""Devices one expectation may name; a harness lists the first ones and says how many
more in its detail."""

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_NO_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=_NO_CONTROL)
]
DeviceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Amount = Annotated[int, Field(ge=-(2**53), le=2**53)] | Annotated[float, Field(allow_inf_nan=False)]
"""A measured amount or a limit: a whole count stays whole, any number must be finite."""


class ExpectationIn(BaseModel):
    """One expectation, checked."""

    model_config = ConfigDict(extra="forbid")

    name: Line
    passed: bool
    detail: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    devices: Annotated[list[DeviceName], Field(max_length=MAX_DEVICES_NAMED)] = []
    measured: Amount | None = None
    limit: Amount | None = None

    @model_validator(mode="after")
    def _readable(self) -> ExpectationIn:
        if _NO_CONTROL_BUT_LINES.search(self.detail):
            raise ValueError("detail must not contain control characters")
        return self

    def outcome(self) -> ExpectationOutcome:
        return ExpectationOutcome(
            name=self.name,
            passed=self.passed,
            detail=self.detail,
            devices=tuple(self.devices),
            measured=self.measured,
            limit=self.limit,
        )


class SimRunIn(BaseModel):
    """A finished run's report. Times carry their zone (ISO 8601 with an offset, or epoch
    seconds); ``passed`` cannot be true while an expectation failed."""

    model_config = ConfigDict(extra="forbid")

    scenario: Line
    scenario_file: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=256, pattern=_NO_CONTROL)
    ] = ""
    started_at: AwareDatetime
    finished_at: AwareDatetime
    speed: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
    seed: Annotated[int, Field(ge=-(2**63), lt=2**63)]
    devices: Annotated[int, Field(ge=1, le=10_000_000)]
    models: Annotated[list[Line], Field(max_length=100)] = []
    passed: bool
    expectations: Annotated[list[ExpectationIn], Field(max_length=MAX_EXPECTATIONS)] = []
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    reported_by: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=128, pattern=_NO_CONTROL)
    ] = ""

    @model_validator(mode="after")
    def _consistent(self) -> SimRunIn:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at: a run ends after it starts")
        failed = [e.name for e in self.expectations if not e.passed]
        if self.passed and failed:
            raise ValueError(f"the run cannot have passed while expectation {failed[0]!r} failed")
        if _NO_CONTROL_BUT_LINES.search(self.summary):
            raise ValueError("summary must not contain control characters")
        return self

    def report(self, reported_by: str) -> SimRunReport:
        """The report to store; ``reported_by`` stands in when the run names no reporter."""
        return SimRunReport(
            scenario=self.scenario,
            scenario_file=self.scenario_file,
            started_at=self.started_at.timestamp(),
            finished_at=self.finished_at.timestamp(),
            speed=self.speed,
            seed=self.seed,
            devices=self.devices,
            models=tuple(self.models),
            passed=self.passed,
            expectations=tuple(e.outcome() for e in self.expectations),
            summary=self.summary,
            reported_by=self.reported_by or reported_by,
        )


class ExpectationOut(BaseModel):
    name: str
    passed: bool
    detail: str
    devices: list[str]
    measured: float | int | None
    limit: float | int | None


class SimRunOut(BaseModel):
    """A recorded run; ``duration_s`` is real seconds from start to finish."""

    id: int
    scenario: str
    scenario_file: str
    started_at: datetime
    finished_at: datetime
    recorded_at: datetime
    duration_s: float
    speed: float
    seed: int
    devices: int
    models: list[str]
    passed: bool
    expectations_held: int
    expectations: list[ExpectationOut]
    summary: str
    reported_by: str

    @classmethod
    def of(cls, run: SimRun) -> SimRunOut:
        r = run.report
        return cls(
            id=run.id,
            scenario=r.scenario,
            scenario_file=r.scenario_file,
            started_at=to_datetime(r.started_at),
            finished_at=to_datetime(r.finished_at),
            recorded_at=to_datetime(run.recorded_at),
            duration_s=round(r.finished_at - r.started_at, 3),
            speed=r.speed,
            seed=r.seed,
            devices=r.devices,
            models=list(r.models),
            passed=r.passed,
            expectations_held=sum(e.passed for e in r.expectations),
            expectations=[
                ExpectationOut(
                    name=e.name,
                    passed=e.passed,
                    detail=e.detail,
                    devices=list(e.devices),
                    measured=e.measured,
                    limit=e.limit,
                )
                for e in r.expectations
            ],
            summary=r.summary,
            reported_by=r.reported_by,
        )
