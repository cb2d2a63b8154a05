"""Composition root of the cloud process: settings in, a running service out.

Builds the database, token store, ingest worker and HTTP API from :class:`CloudSettings`
and runs them together. Nothing here happens at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from types import TracebackType

import uvicorn

from cloud.api.app import create_api
from cloud.auth import TokenStore
from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentStore
from cloud.db.store import Store
from cloud.ingest.worker import IngestWorker
from cloud.learning import FleetHistory, ModelRegistry, Trainer, retrain_forever
from cloud.scoring import ScoringWorker
from cloud.settings import CloudSettings
from device_agent.clock import Clock, SystemClock

log = logging.getLogger("aftercare.cloud")


class _EmbeddedServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the process's entry point decides what
    Ctrl-C means (the demo stops the fleet and the broker too)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


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


class CloudService:
    """The cloud: ``async with CloudService(settings) as cloud: await cloud.serve()``."""

    def __init__(self, settings: CloudSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = open_engine(settings.database_url)
        migrate(self.engine)
        self.store = Store(self.engine)
        self.tokens = TokenStore(self.engine, self.clock)
        self.incidents = IncidentStore(self.engine)
        self.model_registry = ModelRegistry(self.engine, settings.model_dir, self.clock)
        self.scoring = ScoringWorker(self.store, self.incidents, self.model_registry.latest)
        self.ingest = IngestWorker(
            settings, self.store, self.clock, listeners=[self.scoring.submit]
        )
        self.trainer = Trainer(
            FleetHistory(self.engine),
            self.model_registry,
            self.clock,
            window_s=settings.train_window_s,
            max_samples=settings.train_max_samples,
            min_span_s=settings.train_min_span_s,
        )
        self.api = create_api(
            self.store,
            self.tokens,
            self.incidents,
            lambda: self.ingest.connected,
            model_registry=self.model_registry,
            model_trainer=self.trainer,
        )
        self._server: _EmbeddedServer | None = None
        self._retraining: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CloudService:
        """Start scoring, ingest and the retraining schedule."""
        self.scoring.start()
        self.ingest.start()
        self._retraining = asyncio.create_task(self.retrain_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._retraining is not None:
            self._retraining.cancel()
            await asyncio.gather(self._retraining, return_exceptions=True)
        await asyncio.to_thread(self.ingest.stop)
        await asyncio.to_thread(self.scoring.stop)
        self.engine.dispose()

    @property
    def http_port(self) -> int:
        """The port actually bound (useful when settings say 0)."""
        if self._server is None or not self._server.started:
            raise RuntimeError("the HTTP server is not running")
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def retrain_forever(self) -> None:
        """Retrain each device model's fleet model every ``retrain_interval_s`` until
        cancelled (started on entering the service)."""
        await retrain_forever(self.trainer, self.clock, self.settings.retrain_interval_s)

    async def serve(self, started: asyncio.Event | None = None) -> None:
        """Serve HTTP until cancelled; sets ``started`` once the port is bound."""
        config = uvicorn.Config(
            self.api,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            lifespan="off",
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
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await serving
