"""The FastAPI application: routers under /api/v1, health at /healthz."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from cloud.api.routes import devices, health, incidents, models, pages
from cloud.auth import TokenStore
from cloud.db.incidents import IncidentStore
from cloud.db.store import Store
from cloud.learning import ModelRegistry, Trainer

API_PREFIX = "/api/v1"


def create_api(
    store: Store,
    tokens: TokenStore,
    incident_store: IncidentStore,
    mqtt_connected: Callable[[], bool],
    *,
    model_registry: ModelRegistry | None = None,
    model_trainer: Trainer | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Aftercare",
        version="0.1.0",
        description="Fleet health, telemetry and self-healing for connected products.",
    )
    app.state.store = store
    app.state.tokens = tokens
    app.state.incidents = incident_store
    app.state.mqtt_connected = mqtt_connected
    app.state.model_registry = model_registry
    app.state.model_trainer = model_trainer
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(devices.router)
    api.include_router(incidents.router)
    api.include_router(models.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(pages.router)
    return app
