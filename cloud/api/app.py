"""The FastAPI application: routers under /api/v1, health at /healthz, pages at /."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from cloud.api.routes import devices, health, incidents, models, pages
from cloud.db.repositories import Repositories

API_PREFIX = "/api/v1"


def create_api(repos: Repositories, mqtt_connected: Callable[[], bool]) -> FastAPI:
    """The HTTP API over the cloud's repositories; ``mqtt_connected`` feeds /healthz."""
    app = FastAPI(
        title="Aftercare",
        version="0.1.0",
        description="Fleet health, telemetry and self-healing for connected products.",
    )
    app.state.repos = repos
    app.state.mqtt_connected = mqtt_connected
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(devices.router)
    api.include_router(incidents.router)
    api.include_router(models.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(pages.router())
    return app
