"""Simulation runs: manufacturers' scenario reports (``aftercare sim run --api``), for
the service team and manufacturers; owners may not see them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from cloud.api.deps import ReposDep, SimRunsDep
from cloud.api.schemas.sim_runs import SimRunIn, SimRunOut

router = APIRouter(prefix="/sim-runs", tags=["simulation"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "an owner's token: simulation runs are not theirs to see"}
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=FORBIDDEN)
def record_run(body: SimRunIn, repos: ReposDep, principal: SimRunsDep) -> SimRunOut:
    """Record a finished run's report (a run is never changed afterwards: a re-run is a
    new run). Without ``reported_by``, the run is marked as reported by the token's role."""
    return SimRunOut.of(repos.sim_runs.record(body.report(reported_by=principal.role)))


@router.get("", responses=FORBIDDEN)
def list_runs(
    repos: ReposDep,
    _: SimRunsDep,
    passed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SimRunOut]:
    """Newest first (by when each run finished); ``passed`` keeps only passed or failed
    runs."""
    return [SimRunOut.of(run) for run in repos.sim_runs.find(passed=passed, limit=limit)]


@router.get("/{run_id}", responses={**FORBIDDEN, 404: {"description": "no such run"}})
def get_run(run_id: int, repos: ReposDep, _: SimRunsDep) -> SimRunOut:
    run = repos.sim_runs.get(run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no simulation run {run_id}")
    return SimRunOut.of(run)
