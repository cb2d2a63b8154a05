"""Browser tests: Playwright for Python drives Debian's Chromium (never a downloaded
browser) against a running demo: the real cloud, broker and simulated fleet, started once
for the package as ``aftercare demo`` and stopped after it.

Each page's screenshot is kept in ``test-artifacts/screenshots/`` (``AFTERCARE_TEST_ARTIFACTS``
moves it) for CI to keep; screenshots are never committed. A script error on a page fails
its test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.cloud.notify.receivers import Mailbox, smtp_server

CHROMIUM = Path(os.environ.get("AFTERCARE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("AFTERCARE_TEST_ARTIFACTS", "test-artifacts"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""The closed network refuses Chromium's background connections: these keep it quiet."""

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DEMO_DEVICES = 8
DEMO_FAULTS_PER_DAY = 6.0
"""Three times the demo's default, so a listening page sees new incidents every minute
or so once the occasional faults begin (three device-hours, three minutes, in)."""


@dataclass
class Demo:
    """A running ``aftercare demo``: what its ``demo.json`` says, and its output so far."""

    info: dict[str, Any]
    process: subprocess.Popen[str]
    mailbox: Mailbox
    """The SMTP server the demo sends its outreach email to."""
    started_at: float
    """``time.monotonic()`` when the demo said its devices were reporting."""
    output: list[str] = field(default_factory=list)

    def seconds_in(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def api(self) -> str:
        return str(self.info["api"])

    @property
    def root(self) -> str:
        return self.api.removesuffix("/api/v1")

    @property
    def service_token(self) -> str:
        return str(self.info["service_token"])

    @property
    def owner_token(self) -> str:
        return str(self.info["owner_token"])

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=10)

    def wait_for(self, condition: Callable[[], object], timeout_s: float) -> Any:
        """Poll ``condition`` until it returns something truthy; that value, or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.5)
        return None


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with smtp_server() as mailbox:
        yield from _run_demo(tmp_path_factory.mktemp("demo"), mailbox)


def _run_demo(out: Path, mailbox: Mailbox) -> Iterator[Demo]:
    command = [sys.executable, "-m", "cloud.cli", "demo", "--devices", str(DEMO_DEVICES)]
    command += ["--port", "0", "--duration", "1800", "--out", str(out)]
    command += ["--faults-per-day", str(DEMO_FAULTS_PER_DAY)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env["AFTERCARE_SMTP_URL"] = mailbox.url
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "simulated devices reporting" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(60), "the demo did not start:\n" + "".join(output)
        info = json.loads((out / "demo.json").read_text())
        running = Demo(info, process, mailbox, time.monotonic(), output)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # there is no stand-in for a real browser: never a skip
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        yield launched
        launched.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[NewPage]:
    """``new_page(viewport=PHONE)``: a page in a fresh context (its own session storage);
    each is screenshotted when the test ends, and a script error on it fails the test."""
    contexts = []
    errors: list[str] = []
    pages: list[Page] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Page:
        context = browser.new_context(viewport=viewport or LAPTOP, **options)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append(page)
        return page

    yield make
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages):
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        suffix = f"-{number}" if number else ""
        try:
            page.screenshot(path=str(folder / f"{name}{suffix}.png"), full_page=True)
        except Exception as exc:  # a closed page leaves no picture, which is not the test's fault
            print(f"no screenshot of {name}{suffix}: {exc}", file=sys.stderr)
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


class DeviceAgents:
    """Real device agents on simulated hardware, run as their own processes against the
    demo's broker: as an owner plugs a device in, or as a device whose power or link
    keeps failing (``crash``: killed without a goodbye, so the broker says it is gone)."""

    def __init__(self, demo: Demo, state_dir: Path) -> None:
        self.demo = demo
        self.state_dir = state_dir
        self.started: list[subprocess.Popen[str]] = []

    def start(self, device_id: str, model: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
        env["AFTERCARE_STATE_DIR"] = str(self.state_dir / device_id)
        command = [sys.executable, "-m", "cloud.cli", "agent", "run", "--device-id", device_id]
        command += ["--simulate", model, "--mqtt-url", str(self.demo.info["mqtt_url"])]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
        self.started.append(process)
        return process

    @staticmethod
    def crash(process: subprocess.Popen[str]) -> None:
        process.kill()
        process.wait(10)

    def online(self, device_id: str) -> bool | None:
        """The cloud's view: True, False, or None before the device first reported."""
        with self.demo.client(self.demo.service_token) as client:
            answer = client.get(f"/devices/{device_id}")
        return bool(answer.json()["online"]) if answer.status_code == 200 else None

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                process.wait(20)


@pytest.fixture
def device_agents(demo: Demo, tmp_path: Path) -> Iterator[DeviceAgents]:
    agents = DeviceAgents(demo, tmp_path / "agents")
    yield agents
    agents.stop_all()
