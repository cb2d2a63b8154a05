"""Liveness for load balancers and the demo's readiness check: 503 as soon as any part
that the fleet depends on is down, a worker thread has died or ingest is stalled."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.deps import ReposDep
from cloud.api.schemas.health import BacklogOut, ExportOut, HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request, response: Response, repos: ReposDep) -> HealthOut:
    try:
        with repos.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = True
    except SQLAlchemyError:
        database = False
    workers = dict(request.app.state.health())
    ok = database and all(workers.values())  # the export is reported, not judged
    export_counters = request.app.state.export_counters
    backlog = request.app.state.backlog
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if ok else "degraded",
        database=database,
        mqtt=workers.get("mqtt", False),
        ingest=workers.get("ingest", False),
        scoring=workers.get("scoring", False),
        remediation=workers.get("remediation"),
        delivery=workers.get("delivery"),
        support=workers.get("support"),
        export=ExportOut(**export_counters()) if export_counters is not None else None,
        backlog=BacklogOut(**backlog()) if backlog is not None else None,
    )
