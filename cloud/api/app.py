"""The FastAPI application: routers under /api/v1, health at /healthz, pages at /."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from fastapi import APIRouter, FastAPI

from cloud.api.deps import BrokerAccounts
from cloud.api.errors import install_error_handlers
from cloud.api.live import LiveHub
from cloud.api.routes import (
    batches,
    campaigns,
    claims,
    devices,
    events,
    fixes,
    fleet,
    health,
    incidents,
    models,
    outreach,
    owner_app,
    owners,
    pages,
    setup,
    signatures,
    sim_runs,
    support,
)
from cloud.db.changes import ChangeReader
from cloud.db.repositories import Repositories
from cloud.setup import Checklists
from cloud.support.sla import SlaPolicy

API_PREFIX = "/api/v1"


HealthChecks = Callable[[], Mapping[str, bool]]
"""The workers' health for /healthz: ``mqtt``, ``ingest`` and ``scoring``, each ok or not."""

ExportCounters = Callable[[], Mapping[str, int]]
"""The time-series export's counters for /healthz (reported, never judged)."""

Backlog = Callable[[], Mapping[str, int]]
"""What the pipeline still holds for /healthz: ``ingest`` messages, ``scoring`` batches."""


def create_api(
    repos: Repositories,
    worker_health: HealthChecks,
    broker_accounts: BrokerAccounts | None = None,
    checklists: Checklists | None = None,
    sla: SlaPolicy | None = None,
    live_poll_s: float = 1.0,
    *,
    export_counters: ExportCounters | None = None,
    backlog: Backlog | None = None,
) -> FastAPI:
    """The HTTP API over the cloud's repositories; ``worker_health`` feeds /healthz;
    ``broker_accounts``, when the cloud manages the broker, lets a release revoke the
    device's broker credentials; ``checklists`` are the setup checklists (the bundled
    ones by default); ``sla`` the support requests' service levels (4 h to a first
    response, 3 days to a resolution by default); ``live_poll_s`` how often the live
    updates read the database's changes while a page listens; ``export_counters``,
    when the cloud exports to InfluxDB, are shown on /healthz, as is ``backlog``."""
    app = FastAPI(
        title="Aftercare",
        version="0.1.0",
        description="Fleet health, telemetry and self-healing for connected products.",
    )
    app.state.repos = repos
    app.state.health = worker_health
    app.state.export_counters = export_counters
    app.state.backlog = backlog
    app.state.broker_accounts = broker_accounts
    app.state.checklists = checklists if checklists is not None else Checklists.load()
    app.state.sla = sla if sla is not None else SlaPolicy(4 * 3600.0, 3 * 86_400.0)
    describe = functools.partial(events.describe_change, repos)
    app.state.live = LiveHub(ChangeReader(repos.engine), live_poll_s, describe)
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(devices.router)
    api.include_router(incidents.router)
    api.include_router(models.router)
    api.include_router(signatures.router)
    api.include_router(fixes.router)
    api.include_router(campaigns.router)
    api.include_router(batches.router)
    api.include_router(owners.router)
    api.include_router(claims.router)
    api.include_router(setup.router)
    api.include_router(outreach.router)
    api.include_router(support.router)
    api.include_router(events.router)
    api.include_router(fleet.router)
    api.include_router(owner_app.router)
    api.include_router(sim_runs.router)
    app.include_router(api)
    app.include_router(health.router)
    pages.install_pages(app)
    return app
