"""Liveness for load balancers and the demo's readiness check."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text

from cloud.api.deps import ReposDep
from cloud.api.schemas.health import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request, response: Response, repos: ReposDep) -> HealthOut:
    try:
        with repos.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    mqtt = bool(request.app.state.mqtt_connected())
    ok = database and mqtt
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(status="ok" if ok else "degraded", database=database, mqtt=mqtt)
