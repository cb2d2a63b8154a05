"""Real services for the tests: a Mosquitto broker on a free port and a fresh PostgreSQL
database per test (SQLite when PostgreSQL is not reachable locally).

Under ``CI=true`` a missing Mosquitto or PostgreSQL fails the run: it never skips and never
falls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from cloud.app import CloudService
from cloud.mqtt.broker import EmbeddedBroker, free_port
from cloud.mqtt.mosquitto import MosquittoUnavailable, SecureMosquitto
from cloud.settings import CloudSettings
from device_agent.clock import Clock, SystemClock
from firmware_sim.fleet import Fleet, FleetSpec

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "AFTERCARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class MosquittoBroker:
    """A private Mosquitto on a free loopback port that tests may kill and restart."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 10000\n"
            "max_inflight_messages 1000\n"
        )
        self.log = folder / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        _wait_for_port(self.port)

    def kill(self) -> None:
        """SIGKILL: the broker loses everything in flight, as in a crash."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
            self._process = None

    def pause(self) -> None:
        """SIGSTOP: the broker hangs with its sockets open, as an overloaded one does."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
            self._process.terminate()
            self._process.wait(10)
            self._process = None


class EmbeddedTestBroker:
    """Local fallback when Mosquitto is not installed (never under CI)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._broker: EmbeddedBroker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._broker = EmbeddedBroker(port=self.port).__enter__()

    def kill(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._broker is not None:
            self._broker.__exit__()
            self._broker = None


Broker = MosquittoBroker | EmbeddedTestBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    started: Broker
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true but mosquitto is not installed (apt-get install mosquitto)")
        started = EmbeddedTestBroker()
    else:
        started = MosquittoBroker(binary, tmp_path)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureMosquitto]:
    """Mosquitto with dynamic security: no anonymous access, the system's roles, and this
    run's admin, cloud and bootstrap credentials (never skipped: there is no fallback
    that enforces ACLs)."""
    try:
        broker = SecureMosquitto(tmp_path / "secure-broker")
    except MosquittoUnavailable as exc:
        pytest.fail(str(exc))
    with broker:
        yield broker


def _postgres_database() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"aftercare_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    reachable = _postgres_reachable()
    if IN_CI and not reachable:
        pytest.fail(f"CI=true but PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    return reachable


@pytest.fixture
def database_url(tmp_path: Path, postgres_available: bool) -> Iterator[str]:
    """A fresh, empty database: PostgreSQL when reachable (always under CI)."""
    if postgres_available:
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'aftercare.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: bool
) -> Iterator[str]:
    """Each SQL dialect the cloud supports, for store tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aftercare.db'}"
    elif postgres_available:
        yield from _postgres_database()
    else:
        pytest.skip("PostgreSQL not reachable (required under CI=true)")


def cloud_settings(
    broker: Broker, database_url: str, folder: Path, **overrides: object
) -> CloudSettings:
    """Settings for a cloud under test; its model files go to ``folder`` (a tmp_path)."""
    values: dict[str, object] = {
        "model_dir": str(folder / "models"),
        "command_key_path": str(folder / "command_key.pem"),
        "mqtt_url": broker.url,
        "database_url": database_url,
        "http_port": 0,
        "ingest_client_id": f"ingest-{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return CloudSettings.model_validate(values)


class RunningCloud:
    """A cloud serving HTTP on a free port, with an HTTP client bound to it."""

    def __init__(self, service: CloudService, task: asyncio.Task[None]) -> None:
        self.service = service
        self.task = task
        self.base_url = f"http://127.0.0.1:{service.http_port}"

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)


STOP_TIMEOUT_S = 30.0
"""A clean stop takes a couple of seconds (goodbyes, disconnects); one that takes this
long swallowed its cancellation somewhere."""


async def stop_task(task: asyncio.Task[Any], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Cancel ``task`` and wait for it to end. A task that does not end fails the test with
    the stack of every task still running, instead of hanging until pytest's timeout."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        if not task.cancelled():
            task.exception()  # retrieved: an error raised while stopping is not the test's
        return
    stacks = io.StringIO()
    for pending in asyncio.all_tasks():
        pending.print_stack(file=stacks)
    print(stacks.getvalue(), file=sys.stderr)
    raise AssertionError(f"{task.get_name()} still runs {timeout_s:g} s after it was cancelled")


@contextlib.asynccontextmanager
async def running_cloud(
    settings: CloudSettings, clock: Clock | None = None
) -> AsyncIterator[RunningCloud]:
    async with CloudService(settings, clock) as service:
        started = asyncio.Event()
        task = asyncio.create_task(service.serve(started))
        await asyncio.wait_for(started.wait(), 10)
        assert service.ingest.wait_connected(10), "ingest did not connect to the broker"
        try:
            yield RunningCloud(service, task)
        finally:
            await stop_task(task)


@pytest.fixture
async def cloud(broker: Broker, database_url: str, tmp_path: Path) -> AsyncIterator[RunningCloud]:
    async with running_cloud(cloud_settings(broker, database_url, tmp_path)) as running:
        yield running


@contextlib.asynccontextmanager
async def running_fleet(fleet: Fleet) -> AsyncIterator[Fleet]:
    """Run a simulated fleet for the duration of the block."""
    task = asyncio.create_task(fleet.run())
    try:
        yield fleet
    finally:
        await stop_task(task)
        fleet.close()


async def wait_until(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    """Poll ``condition`` until it is truthy or ``timeout_s`` passes; the caller asserts
    what it expected afterwards, so a timeout fails with the test's own message."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def drain(fleet: Fleet, timeout_s: float = 30.0) -> None:
    """Stop producing and wait until the cloud has acknowledged every sample."""
    await fleet.drain(timeout_s)
    assert fleet.unacknowledged() == 0, f"{fleet.unacknowledged()} samples never acknowledged"


def small_fleet(broker: Broker, devices: int = 6, **overrides: object) -> Fleet:
    values: dict[str, object] = {
        "devices": devices,
        "mqtt_url": broker.url,
        "telemetry_interval_s": 0.1,
        "flush_interval_s": 0.2,
        "ack_timeout_s": 2.0,
        "reconnect_max_s": 1.0,
    }
    values.update(overrides)
    return Fleet(FleetSpec(**values), SystemClock())  # type: ignore[arg-type]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port that a test may stop and start, from
    the installed server binaries (Debian's ``postgresql``). As root it runs as the
    ``postgres`` user, since the server refuses to run as root."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir = bin_dir
        self.data = folder / "pgdata"
        self.port = free_port()
        self.log = folder / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self.data.mkdir()
        if self._as_postgres:
            shutil.chown(folder, "postgres")
            shutil.chown(self.data, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, clients cut off mid-transaction."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


def _postgres_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres | None]:
    """None when the server binaries are missing (never under CI, where that fails). Its
    folder sits directly under the temp directory: the ``postgres`` user cannot enter
    pytest's root-only folders."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("CI=true but PostgreSQL's server binaries are not installed")
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="aftercare-pg-"))
    try:
        server = PrivatePostgres(bin_dir, folder)
        server.start()
        yield server
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
