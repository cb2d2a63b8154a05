"""Composition root of the cloud process: settings in, a running service out.

Everything is built when the service is entered, never at import time and never in a
constructor. The database side is wired once, in :mod:`cloud.db.repositories`, which
``aftercare cloud token`` and ``aftercare cloud train`` reuse without starting a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from cloud.api.app import create_api
from cloud.db.outreach_facts import OutreachFacts
from cloud.db.planner_marks import PlannerMarks
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.db.rul_history import RulHistory
from cloud.export.exporter import InfluxExporter, InfluxTarget
from cloud.heal.engine import RemediationEngine
from cloud.heal.playbook import BUNDLED_PLAYBOOKS, Playbooks
from cloud.heal.signing import CommandSigner
from cloud.heal.worker import RemediationWorker
from cloud.ingest.registered import RegisteredDevices
from cloud.ingest.worker import IngestWorker, StoredListener
from cloud.mqtt.dynsec import BOOTSTRAP_ROLE, CLOUD_ROLE, DynsecAdmin
from cloud.notify.email import EmailSender, SmtpConfig
from cloud.notify.message import Sender
from cloud.notify.webhook import WebhookSender
from cloud.notify.worker import DeliveryWorker, Retry
from cloud.outreach.planner import OutreachPolicy
from cloud.outreach.preferences import Channel
from cloud.planning.feedback import FixFeedback
from cloud.planning.wear import FleetRuns, RunSource, WearForecaster, WearSettings
from cloud.planning.worker import PlanningWorker
from cloud.provision.worker import ProvisioningWorker
from cloud.rul.search import SearchGrid
from cloud.rul.wear_spec import load_wear_specs
from cloud.scoring.retrain import retrain_forever
from cloud.scoring.worker import ScoringWorker
from cloud.settings import CloudSettings
from cloud.setup import Checklists
from cloud.support.sla import SlaPolicy
from cloud.support.worker import SupportWorker
from device_agent.clock import Clock, SystemClock

log = logging.getLogger("aftercare.cloud")


class PortInUse(RuntimeError):
    """The HTTP port is taken; choose another with --port or AFTERCARE_HTTP_PORT."""


def bind_http_socket(host: str, port: int) -> socket.socket:
    """Bind the API's listening socket up front, so a taken port is a clear error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


class _EmbeddedServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the process's entry point decides what
    Ctrl-C means (the demo stops the fleet and the broker too)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class CloudService:
    """The cloud: ``async with CloudService(settings) as cloud: await cloud.serve()``.

    Entering opens and migrates the database and starts scoring, ingest and the
    retraining schedule, and, with a dynsec admin configured, the broker admin session
    and provisioning; leaving stops them in reverse order and closes the database.
    """

    repos: Repositories
    signer: CommandSigner
    remediation: RemediationWorker | None
    scoring: ScoringWorker
    ingest: IngestWorker
    broker_admin: DynsecAdmin | None
    provisioning: ProvisioningWorker | None
    delivery: DeliveryWorker
    support: SupportWorker
    planning: PlanningWorker
    export: InfluxExporter | None
    api: FastAPI

    def __init__(
        self,
        settings: CloudSettings,
        clock: Clock | None = None,
        *,
        wear_runs: RunSource | None = None,
    ) -> None:
        """``wear_runs``: where wear models learn from (default: the fleet's own stored
        failures; a manufacturer's reliability-test histories for a fleet with none)."""
        self.settings = settings
        self.clock = clock or SystemClock()
        self.wear_runs = wear_runs
        self._stack = contextlib.AsyncExitStack()
        self._server: _EmbeddedServer | None = None

    async def __aenter__(self) -> CloudService:
        self.signer = CommandSigner.load_or_create(Path(self.settings.command_key_path))
        playbooks = Playbooks.load(Path(self.settings.playbook_dir or BUNDLED_PLAYBOOKS))
        async with contextlib.AsyncExitStack() as stack:
            engine = stack.enter_context(open_database(self.settings.database_url))
            self.repos = build_repositories(engine, self.settings, self.clock)
            self.remediation = None
            if self.settings.self_healing:
                store = self.repos.remediation
                self.remediation = RemediationWorker(
                    RemediationEngine(playbooks, RemediationWorker.records_from(store)),
                    store,
                    self.repos.campaigns,
                    self.signer,
                    self._publish,
                    self.clock,
                )
            self.scoring = ScoringWorker(
                self.repos.telemetry,
                self.repos.incidents,
                self.repos.models.latest,
                clock=self.clock,
                queue_max=self.settings.scoring_queue_max,
                idle_s=self.settings.device_state_idle_s,
                checkpoints=self.repos.checkpoints,
                checkpoint_interval_s=self.settings.checkpoint_interval_s,
                observers=[self.remediation] if self.remediation else [],
            )
            listeners: list[StoredListener] = [self.scoring.submit]
            if self.remediation is not None:
                listeners.append(self.remediation.on_stored)
            self.export = self._exporter()
            if self.export is not None:
                listeners.append(self.export.on_stored)
                if self.remediation is not None:
                    self.remediation.outcome_listeners.append(self.export.on_fix)
                self.export.start()
                # stops last: it takes what the workers stopping before it still send
                stack.push_async_callback(asyncio.to_thread, self.export.stop)
            registered = (
                RegisteredDevices(self.repos.factory.is_known)
                if self.settings.registered_devices_only
                else None
            )
            self.ingest = IngestWorker(
                self.settings,
                self.repos.telemetry,
                self.clock,
                listeners=listeners,
                registered=registered,
            )
            self.broker_admin = None
            self.provisioning = None
            admin_login = self.settings.dynsec_admin
            if admin_login is not None:
                self.broker_admin = DynsecAdmin(
                    self.settings.mqtt_url,
                    admin_login,
                    client_id=self.settings.provisioning_client_id + "-admin",
                )
                await asyncio.to_thread(self.broker_admin.start)
                stack.push_async_callback(asyncio.to_thread, self.broker_admin.stop)
                await asyncio.to_thread(self._prepare_broker, self.broker_admin)
            if self.broker_admin is not None or self.settings.provisioning:
                # Handshake windows are real network time: the system clock, always.
                self.provisioning = ProvisioningWorker(
                    self.settings,
                    self.repos.factory,
                    self.repos.telemetry,
                    self.broker_admin,
                    self.signer.public_key_text,
                    SystemClock(),
                )
            self.delivery = DeliveryWorker(
                self.repos.deliveries,
                self.repos.outreach,
                outreach_senders(self.settings),
                self.clock,
                link_base=self.settings.outreach_link_base,
                poll_s=self.settings.outreach_poll_s,
                lease_s=self.settings.delivery_lease_s,
                retry=Retry(self.settings.delivery_max_attempts, self.settings.delivery_backoff_s),
                expire_after_s=self.settings.outreach_expire_after_s,
            )
            self.support = self._support_worker()
            self.planning = self._planning_worker()
            self.repos.outreach.response_listeners.append(
                FixFeedback(self.repos.incidents, self.repos.remediation, self.remediation)
            )
            self.api = create_api(
                self.repos,
                self.worker_health,
                self.broker_admin,
                sla=self._sla_policy(),
                live_poll_s=self.settings.live_poll_s,
                export_counters=self.export.counters if self.export is not None else None,
                backlog=self.backlog,
            )
            self.scoring.start()
            stack.push_async_callback(asyncio.to_thread, self.scoring.stop)
            self.ingest.start()
            stack.push_async_callback(asyncio.to_thread, self.ingest.stop)
            if self.provisioning is not None:
                await asyncio.to_thread(self.provisioning.start)
                stack.push_async_callback(asyncio.to_thread, self.provisioning.stop)
            if self.remediation is not None:
                self.remediation.start()
                stack.push_async_callback(asyncio.to_thread, self.remediation.stop)
            self.delivery.start()
            stack.push_async_callback(asyncio.to_thread, self.delivery.stop)
            self.support.start()
            stack.push_async_callback(asyncio.to_thread, self.support.stop)
            self.planning.start()
            stack.push_async_callback(asyncio.to_thread, self.planning.stop)
            retraining = asyncio.create_task(
                retrain_forever(self.repos.trainer, self.clock, self.settings.retrain_interval_s)
            )
            stack.push_async_callback(_cancel, retraining)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def _prepare_broker(self, admin: DynsecAdmin) -> None:
        """Roles up to date, and the cloud's and the bootstrap login holding theirs,
        before any session of the cloud subscribes."""
        admin.ensure_roles()
        if self.settings.mqtt_username is not None:
            admin.grant_role(self.settings.mqtt_username, CLOUD_ROLE)
        if self.settings.bootstrap_username is not None:
            admin.grant_role(self.settings.bootstrap_username, BOOTSTRAP_ROLE)

    def backlog(self) -> dict[str, int]:
        return {"ingest": self.ingest.backlog, "scoring": self.scoring.backlog}

    def worker_health(self) -> dict[str, bool]:
        """What /healthz reports beside the database: the broker session, and whether the
        ingest writer, the scorer and self-healing are alive (and ingest is not stalled)."""
        health = {
            "mqtt": self.ingest.connected,
            "ingest": self.ingest.writer_alive and not self.ingest.stalled,
            "scoring": self.scoring.alive,
        }
        if self.remediation is not None:
            health["remediation"] = self.remediation.alive
        health["delivery"] = self.delivery.alive
        health["support"] = self.support.alive
        health["planning"] = self.planning.alive
        return health

    def _exporter(self) -> InfluxExporter | None:
        """The time-series export when ``AFTERCARE_INFLUX_URL`` is set: every stored
        sample, incident change and judged fix, each one non-blocking queue put."""
        settings = self.settings
        if not settings.influx_url:
            return None
        target = InfluxTarget(
            settings.influx_url, settings.influx_token, settings.influx_org, settings.influx_bucket
        )
        telemetry = self.repos.telemetry

        def model_of(device_id: str) -> str | None:
            device = telemetry.get_device(device_id)
            return device.model if device is not None else None

        exporter = InfluxExporter(target, model_of)
        self.repos.incidents.change_listeners.append(exporter.on_incident)
        self.repos.remediation.change_listeners.append(exporter.on_incident)
        return exporter

    def _planning_worker(self) -> PlanningWorker:
        """Outreach planning: wear forecasts (models trained on the fleet's failures, or
        on the runs the service was given), escalations, stalled setups, support news
        and feedback questions, on the service's clock."""
        settings = self.settings
        facts = OutreachFacts(self.repos.engine)
        history = RulHistory(self.repos.engine)
        forecaster = WearForecaster(
            load_wear_specs(),
            self.wear_runs or FleetRuns(history, settings.rul_window_s),
            history,
            facts.owners_of,
            WearSettings(
                period_s=settings.rul_period_s,
                interval_s=settings.rul_interval_s,
                window_s=settings.rul_window_s,
                retrain_s=settings.rul_retrain_s,
                min_runs=settings.rul_min_runs,
                grid=SearchGrid.small() if settings.rul_quick_search else None,
            ),
        )
        checklists = Checklists.load()
        setup = self.repos.setup
        return PlanningWorker(
            facts,
            self.repos.outreach,
            PlannerMarks(self.repos.engine),
            self.clock,
            forecasts=forecaster,
            refresh_setup=lambda: setup.refresh_support(checklists),
            policy=OutreachPolicy(
                lead_time_s=settings.outreach_lead_time_s,
                arrange_s=settings.outreach_arrange_s,
                feedback_delay_s=settings.feedback_delay_s,
            ),
            poll_s=settings.planning_poll_s,
        )

    def _sla_policy(self) -> SlaPolicy:
        settings = self.settings
        return SlaPolicy(
            settings.support_first_response_s,
            settings.support_resolution_s,
            settings.support_sla_by_category,
        )

    def _support_worker(self) -> SupportWorker:
        """Support requests' diagnostics (asked of devices with the command key) and SLA
        clocks, on the service's clock."""
        return SupportWorker(
            self.repos.support,
            self.repos.telemetry,
            self.repos.incidents,
            self.repos.remediation,
            self.signer,
            self._publish,
            self.clock,
            timeout_s=self.settings.support_diagnostics_timeout_s,
            summary_window_s=self.settings.support_summary_window_s,
            poll_s=self.settings.support_poll_s,
        )

    def _publish(self, topic: str, payload: bytes) -> None:
        """Commands leave through the ingest's broker session (QoS 1, kept across
        reconnects by paho)."""
        self.ingest.mqtt.publish(topic, payload)

    @property
    def http_port(self) -> int:
        """The port actually bound (useful when settings say 0)."""
        if self._server is None or not self._server.started:
            raise RuntimeError("the HTTP server is not running")
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def serve(self, started: asyncio.Event | None = None) -> None:
        """Serve HTTP until cancelled; sets ``started`` once the port is bound."""
        config = uvicorn.Config(
            self.api,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = _EmbeddedServer(config)
        sock = bind_http_socket(self.settings.http_host, self.settings.http_port)
        serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        try:
            while not self._server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the HTTP server stopped during start-up")
                await asyncio.sleep(0.02)
            log.info("api listening on http://%s:%d", self.settings.http_host, self.http_port)
            if started is not None:
                started.set()
            await asyncio.shield(serving)
        finally:
            self.api.state.live.close()
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await serving


def outreach_senders(settings: CloudSettings) -> dict[Channel, Sender]:
    """The channels this cloud can send outreach on: webhooks always, email when
    ``AFTERCARE_SMTP_URL`` is set (a malformed one stops the start with SmtpUrlInvalid)."""
    senders: dict[Channel, Sender] = {
        "webhook": WebhookSender(timeout_s=settings.webhook_timeout_s)
    }
    if settings.smtp_url:
        config = SmtpConfig.from_url(settings.smtp_url, settings.smtp_from)
        senders["email"] = EmailSender(config, timeout_s=settings.webhook_timeout_s)
    return senders


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
