"""A Mosquitto child process with dynamic security, for ``aftercare demo --broker
mosquitto`` and the tests: the same enforcement production gets, on a free loopback port.

It writes a ``mosquitto.conf`` into its folder (listener, plugin, no anonymous access),
initialises the plugin's file with an admin client (``mosquitto_ctrl dynsec init``),
starts the broker and, through the admin API, creates the roles and the two shared
identities: the cloud's and the factory bootstrap credential. Every password is random
per run. Production runs its own Mosquitto (README, "Broker security"); the cloud then
only needs the admin credentials to keep roles and device clients in step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cloud.mqtt.broker import free_port
from cloud.mqtt.dynsec import BOOTSTRAP_ROLE, CLOUD_ROLE, DynsecAdmin
from cloud.settings import BrokerLogin

PLUGIN_NAME = "mosquitto_dynamic_security.so"
PLUGIN_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/mosquitto",
    "/usr/lib64/mosquitto",
    "/usr/local/lib",
    "/usr/lib",
    "/opt/homebrew/lib",
)
"""Where Debian, Fedora, source builds and Homebrew put the plugin."""


class MosquittoUnavailable(RuntimeError):
    """Mosquitto, ``mosquitto_ctrl`` or the dynamic-security plugin is missing; the message
    says what to install."""


@dataclass(frozen=True)
class Credential:
    username: str
    password: str


def find_plugin() -> Path:
    """The dynamic-security plugin's path; raises MosquittoUnavailable when absent."""
    for folder in PLUGIN_DIRS:
        candidate = Path(folder) / PLUGIN_NAME
        if candidate.exists():
            return candidate
    found = sorted(Path("/usr/lib").glob(f"*/{PLUGIN_NAME}"))
    if found:
        return found[0]
    raise MosquittoUnavailable(
        f"{PLUGIN_NAME} not found in {', '.join(PLUGIN_DIRS)}: install Mosquitto 2 with its "
        "dynamic-security plugin (Debian/Ubuntu: apt-get install mosquitto)"
    )


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        raise MosquittoUnavailable(f"{name} not found: apt-get install mosquitto mosquitto-clients")
    return found


def _new_credential(username: str) -> Credential:
    return Credential(username, secrets.token_urlsafe(24))


class SecureMosquitto:
    """``with SecureMosquitto(folder) as broker:`` a running Mosquitto that enforces the
    roles of :mod:`cloud.mqtt.dynsec`; ``broker.cloud``, ``broker.bootstrap`` and
    ``broker.admin`` hold this run's credentials. Also ``kill()`` and ``start()`` again."""

    def __init__(self, folder: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.folder = folder
        self.host = host
        self.port = port or free_port(host)
        self.binary = _tool("mosquitto")
        self.plugin = find_plugin()
        self.admin = _new_credential("aftercare-admin")
        self.cloud = _new_credential("aftercare-cloud")
        self.bootstrap = _new_credential("aftercare-bootstrap")
        self.config = folder / "mosquitto.conf"
        self.dynsec_file = folder / "dynamic-security.json"
        self.log = folder / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def __enter__(self) -> SecureMosquitto:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.start()
        try:
            with self.admin_client() as admin:
                admin.ensure_roles()
                admin.ensure_client(self.cloud.username, self.cloud.password, CLOUD_ROLE)
                admin.ensure_client(
                    self.bootstrap.username, self.bootstrap.password, BOOTSTRAP_ROLE
                )
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admin_client(self) -> DynsecAdmin:
        return DynsecAdmin(self.url, BrokerLogin(self.admin.username, self.admin.password))

    def _write_config(self) -> None:
        # Started as root, Mosquitto drops to the ``mosquitto`` user, which could not read
        # the plugin's file (mode 0600) in a root-only folder: keep the caller's user.
        keep_user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            keep_user + f"listener {self.port} {self.host}\n"
            "allow_anonymous false\n"
            "per_listener_settings false\n"
            "persistence false\n"
            "max_queued_messages 10000\n"
            "max_inflight_messages 1000\n"
            f"plugin {self.plugin}\n"
            f"plugin_opt_config_file {self.dynsec_file}\n"
        )
        # Every run has new passwords, so the accounts start afresh (kill and start keep them).
        self.dynsec_file.unlink(missing_ok=True)
        subprocess.run(
            [
                _tool("mosquitto_ctrl"),
                "dynsec",
                "init",
                str(self.dynsec_file),
                self.admin.username,
                self.admin.password,
            ],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
        self.dynsec_file.chmod(0o600)

    def start(self) -> None:
        """Start the broker (again, after ``kill``); the plugin's file keeps every client."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MosquittoUnavailable(
                    f"mosquitto exited at start ({self._process.returncode}); see {self.log}: "
                    + self.log.read_text(errors="replace")[-500:]
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise MosquittoUnavailable(f"mosquitto did not listen on {self.host}:{self.port} in 10 s")

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None
