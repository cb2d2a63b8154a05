"""The one wiring of the cloud's database side: an engine migrated to the latest schema
and a repository per aggregate on it. The service, the CLI and tests all build it here,
so a setting (a training window, say) cannot be honoured by one and ignored by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from cloud.db.campaigns import CampaignStore
from cloud.db.checkpoints import CheckpointStore
from cloud.db.claims import ClaimLimits, ClaimStore
from cloud.db.deliveries import DeliveryQueue
from cloud.db.engine import migrate, open_engine
from cloud.db.factory import FactoryRegistry
from cloud.db.fleet_history import FleetHistory
from cloud.db.fleet_models import ModelRegistry
from cloud.db.fleet_summary import FleetSummaryStore
from cloud.db.incidents import IncidentStore
from cloud.db.outreach import OutreachStore
from cloud.db.owners import OwnerStore
from cloud.db.remediation import RemediationStore
from cloud.db.setup import SetupStore
from cloud.db.sim_runs import SimRunStore
from cloud.db.support import SupportStore
from cloud.db.tags import TagStore
from cloud.db.telemetry import TelemetryStore
from cloud.db.tokens import TokenStore
from cloud.learning import Trainer
from cloud.settings import CloudSettings
from device_agent.clock import Clock


@contextlib.contextmanager
def open_database(url: str) -> Iterator[Engine]:
    """An engine whose schema is migrated to the latest version; disposed on exit."""
    engine = open_engine(url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Repositories:
    """The cloud's state, one repository per aggregate, and the trainer that writes
    fleet models from the stored history."""

    engine: Engine
    clock: Clock
    telemetry: TelemetryStore
    tokens: TokenStore
    incidents: IncidentStore
    checkpoints: CheckpointStore
    remediation: RemediationStore
    campaigns: CampaignStore
    models: ModelRegistry
    trainer: Trainer
    factory: FactoryRegistry
    owners: OwnerStore
    claims: ClaimStore
    tags: TagStore
    setup: SetupStore
    outreach: OutreachStore
    deliveries: DeliveryQueue
    support: SupportStore
    fleet: FleetSummaryStore
    """Fleet-wide counts for the service dashboard."""
    sim_runs: SimRunStore


def build_repositories(engine: Engine, settings: CloudSettings, clock: Clock) -> Repositories:
    models = ModelRegistry(engine, settings.model_dir, clock)
    trainer = Trainer(
        FleetHistory(engine),
        models,
        clock,
        window_s=settings.train_window_s,
        max_samples=settings.train_max_samples,
        min_span_s=settings.train_min_span_s,
    )
    tokens = TokenStore(engine, clock)
    factory = FactoryRegistry(engine, clock)
    limits = ClaimLimits(
        window_s=settings.claim_failure_window_s,
        per_owner=settings.claim_max_failures_per_owner,
        per_client=settings.claim_max_failures_per_client,
    )
    outreach = OutreachStore(engine, clock, dedupe_window_s=settings.outreach_dedupe_window_s)
    return Repositories(
        engine=engine,
        clock=clock,
        telemetry=TelemetryStore(engine),
        tokens=tokens,
        incidents=IncidentStore(engine),
        checkpoints=CheckpointStore(engine),
        remediation=RemediationStore(engine),
        campaigns=CampaignStore(engine),
        models=models,
        trainer=trainer,
        factory=factory,
        owners=OwnerStore(engine, clock, tokens, settings.owner_token_ttl_s),
        claims=ClaimStore(engine, clock, factory, limits),
        tags=TagStore(engine),
        setup=SetupStore(engine, clock),
        outreach=outreach,
        deliveries=DeliveryQueue(engine, outreach),
        support=SupportStore(engine),
        fleet=FleetSummaryStore(engine),
        sim_runs=SimRunStore(engine, clock),
    )
